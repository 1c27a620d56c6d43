// @vitest-environment jsdom
import { expect, it } from "vitest";
import { renderMarkdown } from "./markdown";

it("renders markdown: emphasis, lists, code, tables", () => {
  const html = renderMarkdown("**H100** is *fast*\n\n- one\n- `two`\n\n| a | b |\n|---|---|\n| 1 | 2 |");
  expect(html).toContain("<strong>H100</strong>");
  expect(html).toContain("<em>fast</em>");
  expect(html).toContain("<li><code>two</code></li>");
  expect(html).toContain("<td>1</td>");
});

it("strips a script, whether raw or inside markdown", () => {
  const html = renderMarkdown("hello <script>alert(1)</script> **there**");
  expect(html).not.toMatch(/<script/i);
  expect(html).not.toContain("alert(1)</script>");
  expect(html).toContain("<strong>there</strong>");
});

it("strips an img with onerror and any event handler", () => {
  const html = renderMarkdown('<img src=x onerror="alert(1)"> ![x](https://e.com/a.png) <b onclick="alert(2)">b</b>');
  expect(html).not.toMatch(/<img/i);
  expect(html).not.toMatch(/onerror|onclick/i);
});

it("strips javascript: and data: links but keeps http(s) and app links", () => {
  const html = renderMarkdown(
    "[a](javascript:alert(1)) [b](JaVaScRiPt:alert(1)) [c](data:text/html,<script>alert(1)</script>) " +
      "[d](https://example.com/x) [e](/app/offers/x-1)",
  );
  expect(html).not.toMatch(/javascript:/i);
  expect(html).not.toMatch(/data:text/i);
  expect(html).toContain('href="https://example.com/x"');
  expect(html).toContain('rel="noopener noreferrer"');
  expect(html).toContain('href="/app/offers/x-1"');
});

it("keeps offer text as text: an iframe, style or form in a provider name does not become markup", () => {
  const html = renderMarkdown('Provider <iframe src="https://evil"></iframe><style>*{}</style><form><input></form>');
  expect(html).not.toMatch(/<iframe|<style|<form|<input/i);
});

it("turns the assistant's booking link into the app's booking form for the offer", () => {
  const html = renderMarkdown("1. **1 x GH200** at lambda: $1.49/h. [Book](/bookings?offer_id=lambda-1a&hours=8)");
  expect(html).toContain(`href="${import.meta.env.BASE_URL}offers/lambda-1a?book=1&amp;hours=8"`);
  expect(html).not.toContain('href="/bookings');
});
