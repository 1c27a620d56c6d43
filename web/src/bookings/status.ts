import type { BookingStatus } from "../api/types";

/** The statuses a booking stays in (the saga is done with it). */
export const SETTLED: ReadonlySet<BookingStatus> = new Set(["confirmed", "failed", "cancelled", "needs_attention"]);

export const STATUS_COLOR: Record<BookingStatus, string> = {
  pending: "gray", price_locked: "gray", reserved: "blue", awaiting_payment: "yellow", charged: "blue",
  confirmed: "green", failed: "red", cancelled: "gray", needs_attention: "orange",
};

export const STATUS_WORDS: Record<BookingStatus, string> = {
  pending: "pending", price_locked: "price locked", reserved: "reserved", awaiting_payment: "awaiting payment",
  charged: "charged", confirmed: "confirmed", failed: "failed", cancelled: "cancelled",
  needs_attention: "needs attention",
};
