// The unread badge: replies that arrived while the panel was closed; opening it reads them all.

export type UnreadEvent = { type: "reply"; panelOpen: boolean } | { type: "open" };

export function nextUnread(count: number, event: UnreadEvent): number {
  if (event.type === "open") return 0;
  return event.panelOpen ? count : count + 1;
}

/** The badge's text: nothing at 0, "9+" past 9. */
export function badgeLabel(count: number): string | null {
  return count <= 0 ? null : count > 9 ? "9+" : String(count);
}
