// What the page on screen shows, for the assistant: the Offers page puts its GET /offers filters and the offer ids
// on screen here; the chat panel sends them with each message (ChatRequest.context), so "analyse my current search"
// means this search. A module-level store (no React context): the page and the lazily loaded panel share it.

export interface PageContext {
  /** GET /offers' filters in JSON's types (SearchFilters) */
  filters: Record<string, unknown>;
  visible_offer_ids: string[];
}

let current: PageContext | null = null;

/** The page's context; null when it leaves (its cleanup). At most 100 ids, as the API accepts. */
export function setPageContext(ctx: PageContext | null): void {
  current = ctx ? { filters: ctx.filters, visible_offer_ids: ctx.visible_offer_ids.slice(0, 100) } : null;
}

export function getPageContext(): PageContext | null {
  return current;
}
