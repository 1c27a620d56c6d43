import type { BookingStatus } from "../api/types";

/** The statuses a booking stays in (the saga is done with it). */
export const SETTLED: ReadonlySet<BookingStatus> = new Set(["confirmed", "failed", "cancelled", "needs_attention"]);

/** shades of 4.5:1 or more on white (WCAG AA for the badges' small outlined text; green.9 is 4.3:1) */
export const STATUS_COLOR: Record<BookingStatus, string> = {
  pending: "gray.7", price_locked: "gray.7", reserved: "blue.9", awaiting_payment: "grape.9", charged: "blue.9",
  confirmed: "teal.9", failed: "red.9", cancelled: "gray.7", needs_attention: "red.9",
};

export const STATUS_WORDS: Record<BookingStatus, string> = {
  pending: "pending", price_locked: "price locked", reserved: "reserved", awaiting_payment: "awaiting payment",
  charged: "charged", confirmed: "confirmed", failed: "failed", cancelled: "cancelled",
  needs_attention: "needs attention",
};
