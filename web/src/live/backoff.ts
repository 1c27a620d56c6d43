/** Reconnect delays: exponential from `baseMs`, capped at `capMs`, with "equal jitter" (half the step fixed, half
 * random) so that clients cut off together do not come back together, yet none retries at once in a tight loop. */
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 30_000;

export function backoffDelay(
  attempt: number,
  random: () => number = Math.random,
  baseMs = BACKOFF_BASE_MS,
  capMs = BACKOFF_CAP_MS,
): number {
  const step = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.min(capMs, step / 2 + random() * (step / 2));
}
