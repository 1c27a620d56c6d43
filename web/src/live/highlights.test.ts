import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { HIGHLIGHT_MS, Highlights } from "./highlights";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

it("keeps a changed price highlighted for 3 s, and a second change restarts its 3 s", () => {
  let current: ReadonlyMap<string, string> = new Map();
  const h = new Highlights((m) => (current = m));
  h.mark("a", "up");
  expect(current.get("a")).toBe("up");
  vi.advanceTimersByTime(2000);
  h.mark("b", "down");
  h.mark("a", "down"); // changed again: the direction follows, the timer restarts
  vi.advanceTimersByTime(HIGHLIGHT_MS - 1);
  expect(Object.fromEntries(current)).toEqual({ a: "down", b: "down" });
  vi.advanceTimersByTime(1);
  expect(current.size).toBe(0);
  expect(HIGHLIGHT_MS).toBe(3000);
});

it("clear() drops every mark and its timer", () => {
  let calls = 0;
  let current: ReadonlyMap<string, string> = new Map();
  const h = new Highlights((m) => { current = m; calls++; });
  h.mark("a", "up");
  h.clear();
  expect(current.size).toBe(0);
  const after = calls;
  vi.advanceTimersByTime(10_000);
  expect(calls).toBe(after); // the cleared timer never fires
});
