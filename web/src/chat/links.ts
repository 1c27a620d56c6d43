// The assistant's answers are written for any API client: a recommendation's "[Book](/bookings?offer_id=...&hours=N)"
// names the API's booking call, which the browser would open as a page on the API's origin (GET /bookings, a 401
// for a page load). In the app it means the offer's page with its booking form open: `<base>offers/<id>?book=1`,
// the hours carried over. Other same-site links stay as they are.

/** The app's address for an answer's link, or the link unchanged when it is not the assistant's booking link. */
export function appHref(href: string, base: string): string {
  const match = /^\/bookings\?([^#]*)$/.exec(href);
  if (!match) return href;
  const query = new URLSearchParams(match[1]);
  const offer = query.get("offer_id");
  if (!offer) return href;
  const out = new URLSearchParams({ book: "1" });
  const hours = query.get("hours");
  if (hours && /^[1-9][0-9]{0,2}$/.test(hours)) out.set("hours", hours);
  return `${base.replace(/\/?$/, "/")}offers/${encodeURIComponent(offer)}?${out.toString()}`;
}

/** The router's path for a same-site address under the app's ``base`` (``/app/offers/x`` -> ``/offers/x``), or
 * null for any other address (another site, the API's own paths, a mailto). */
export function routerPath(href: string, base: string): string | null {
  const prefix = base.replace(/\/?$/, "/");
  if (!href.startsWith(prefix)) return null;
  return "/" + href.slice(prefix.length);
}
