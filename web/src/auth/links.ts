// The pages that mailed links and Stripe Checkout open: what they read from the URL, and how they wait.
import { ApiError } from "../api/client";

/** A link token as the API takes it (api/auth_models.py LINK_TOKEN: a compact JWS, 20 to 4096 characters). */
const LINK_TOKEN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** The token of a mailed link (<AppUrl>/verify-email#token=..., /reset-password#token=...), read from the URL's
 * fragment only (browsers never send a fragment to a server, nor put it in a Referer); null when it is missing or
 * cannot be one (a link cut short by a mail client). */
export function linkToken(hash: string): string | null {
  const token = new URLSearchParams(hash.replace(/^#/, "")).get("token")?.trim() ?? "";
  return token.length >= 20 && token.length <= 4096 && LINK_TOKEN.test(token) ? token : null;
}

const SESSION_ID = /^cs_[A-Za-z0-9_]{1,250}$/;
const BOOKING_ID = /^bk_[a-z2-7]{26}$/; // domain/booking: "bk_" + 26 base32 characters
const PLAN = /^[a-z]{1,32}$/;

export interface CheckoutReturn {
  /** Stripe's Checkout Session id ({CHECKOUT_SESSION_ID} in success_url) */
  sessionId: string | null;
  /** the booking paid for (a booking's Checkout), to link to its page */
  bookingId: string | null;
  /** the plan bought (a plan's Checkout) */
  plan: string | null;
}

/** What Checkout's return URL says (<AppUrl>/billing/done?session_id=...&booking_id=... or &plan=...): each value
 * only when it has its expected form (the query is anyone's to edit; these only pick links and words). */
export function checkoutReturn(search: string): CheckoutReturn {
  const q = new URLSearchParams(search);
  const pick = (key: string, form: RegExp) => {
    const value = q.get(key);
    return value !== null && form.test(value) ? value : null;
  };
  return { sessionId: pick("session_id", SESSION_ID), bookingId: pick("booking_id", BOOKING_ID), plan: pick("plan", PLAN) };
}

/** What went wrong with POST /auth/password/reset, as the page answers it: the link (forged, expired, used or
 * superseded: 400 invalid_link; or a token the API's model refuses), the new password (422 on it), the rate (429),
 * anything else. */
export type ResetFailure = "link" | "password" | "rate" | "other";

export function resetFailure(error: unknown): ResetFailure {
  if (!(error instanceof ApiError)) return "other";
  if (error.status === 429) return "rate";
  if (error.code === "invalid_link") return "link";
  if (error.status === 422 && Array.isArray(error.details)) {
    const fields = (error.details as { loc?: unknown[] }[]).map((d) => (Array.isArray(d.loc) ? d.loc.at(-1) : null));
    if (fields.includes("token")) return "link";
    if (fields.includes("password")) return "password";
  }
  return "other";
}

/** After a plan's Checkout: the plan reaches the access token at a refresh once Stripe's webhook has arrived, which
 * may be a moment after the payer is back. Refreshes after each delay until the user's plan is ``plan``.
 * "changed": it is; "pending": not yet after the last try; "signed_out": no session to refresh (or it was refused);
 * "stopped": the signal aborted (the page went away). */
export async function awaitPlan(opts: {
  plan: string;
  refresh: () => Promise<boolean>;
  currentPlan: () => string | null;
  delaysMs?: number[];
  sleep?: (ms: number) => Promise<void>;
  signal?: AbortSignal;
}): Promise<"changed" | "pending" | "signed_out" | "stopped"> {
  const { plan, refresh, currentPlan, signal } = opts;
  const delays = opts.delaysMs ?? [0, 1000, 2000, 3000, 4000, 5000];
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (const delay of delays) {
    if (delay > 0) await sleep(delay);
    if (signal?.aborted) return "stopped";
    if (!(await refresh())) return "signed_out";
    if (signal?.aborted) return "stopped";
    if (currentPlan() === plan) return "changed";
  }
  return "pending";
}
