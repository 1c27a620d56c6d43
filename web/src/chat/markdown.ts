// An answer's markdown as safe HTML: marked parses (GFM), DOMPurify sanitises the result with a short allow-list:
// no script, style, img, iframe, form or event-handler attribute survives, and a link keeps only an http(s),
// mailto or same-site address (DOMPurify drops javascript: and data: URIs). Answers quote offer text (provider
// names, instance types) that the app does not control, so nothing from them may become markup.
import { marked } from "marked";
import DOMPurify from "dompurify";
import { appHref } from "./links";

const ALLOWED_TAGS = ["p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "blockquote", "h1", "h2", "h3",
  "h4", "table", "thead", "tbody", "tr", "th", "td", "hr", "del"];

let hooked = false;

export function renderMarkdown(text: string): string {
  if (!hooked) {
    // every surviving link opens beside the app, without handing it window.opener; the assistant's booking link
    // becomes the app's booking form (links.ts)
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      const href = node.tagName === "A" ? node.getAttribute("href") : null;
      if (href) node.setAttribute("href", appHref(href, import.meta.env.BASE_URL));
      if (node.tagName === "A" && node.getAttribute("href")?.match(/^https?:/)) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
    hooked = true;
  }
  const html = marked.parse(text, { async: false, gfm: true, breaks: true });
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR: ["href", "title", "target", "rel"],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|\/|#)/i,
  });
}
