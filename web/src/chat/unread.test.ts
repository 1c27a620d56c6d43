import { expect, it } from "vitest";
import { badgeLabel, nextUnread } from "./unread";

it("counts a reply that arrives while the panel is closed", () => {
  let n = 0;
  n = nextUnread(n, { type: "reply", panelOpen: false });
  n = nextUnread(n, { type: "reply", panelOpen: false });
  expect(n).toBe(2);
  expect(badgeLabel(n)).toBe("2");
});

it("does not count a reply seen in the open panel, and opening reads all", () => {
  expect(nextUnread(0, { type: "reply", panelOpen: true })).toBe(0);
  expect(nextUnread(3, { type: "reply", panelOpen: true })).toBe(3);
  expect(nextUnread(3, { type: "open" })).toBe(0);
});

it("shows no badge at zero and caps its label at 9+", () => {
  expect(badgeLabel(0)).toBeNull();
  expect(badgeLabel(9)).toBe("9");
  expect(badgeLabel(12)).toBe("9+");
});
