import { ApiError } from "../api/client";

/** The API's error codes that a person meets on these pages, in words. */
const WORDS: Record<string, string> = {
  invalid_credentials: "That email and password do not match an account.",
  invalid_mfa_code: "That code is not right (or was already used): try the current one from your app.",
  invalid_mfa_challenge: "The sign-in step expired: sign in again.",
  step_up_failed: "That password (or code) is not right.",
  email_not_verified: "Verify your email first: open the link we mailed you.",
  refresh_refused: "Your session ended: sign in again.",
  unauthorized: "You are not signed in (or your session ended).",
  forbidden: "Your account may not do this.",
  rate_limited: "Too many attempts: wait a moment and try again.",
  invalid_request: "Some fields are not valid.",
  offer_not_found: "This offer is no longer listed.",
  booking_not_found: "There is no such booking.",
  booking_payment_expired: "The payment window closed.",
  network_error: "The API could not be reached.",
  invalid_link: "This link no longer works: it expired, was already used, or a newer one was sent.",
  validation_error: "Some fields are not valid.",
};

export function errorWords(error: unknown): string {
  if (error instanceof ApiError) {
    const words = WORDS[error.code] ?? error.message;
    return `${words} (${error.code})`;
  }
  return error instanceof Error ? error.message : String(error);
}
