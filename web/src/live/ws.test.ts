import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BACKOFF_CAP_MS, backoffDelay } from "./backoff";
import { FakeSocket, lastSocket } from "./fakeSocket";
import { LiveClient, type LiveStatus } from "./ws";

const last = lastSocket;

function client(random = () => 0.5) {
  const statuses: [LiveStatus, number | undefined][] = [];
  const messages: unknown[] = [];
  const live = new LiveClient({
    url: "ws://live.test",
    onMessage: (m) => messages.push(m),
    onStatus: (s, retry) => statuses.push([s, retry]),
    WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    random,
  });
  return { live, statuses, messages };
}

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

describe("backoffDelay", () => {
  it("doubles per attempt with jitter in the upper half of the step, and never exceeds 30 s", () => {
    expect(backoffDelay(0, () => 0)).toBe(250);
    expect(backoffDelay(0, () => 1)).toBe(500);
    expect(backoffDelay(3, () => 0)).toBe(2000);
    expect(backoffDelay(3, () => 0.999)).toBeLessThan(4000);
    for (let attempt = 0; attempt < 40; attempt++) expect(backoffDelay(attempt, () => 1)).toBeLessThanOrEqual(BACKOFF_CAP_MS);
    expect(backoffDelay(30, () => 0)).toBe(BACKOFF_CAP_MS / 2);
  });
});

describe("LiveClient", () => {
  it("subscribes once open, reconnects with growing delays, and resubscribes with resume_from after a drop", () => {
    const { live, statuses } = client(() => 1);
    live.subscribe({ gpu: ["H100"] });
    live.start();
    expect(last().sent).toEqual([]); // not open yet: nothing sent
    last().open();
    expect(last().sent).toEqual([{ action: "subscribe", filters: { gpu: ["H100"] } }]);
    last().deliver({ type: "batch", messages: [{ type: "subscribed" }, { type: "snapshot", seq: 41, offers: [] }] });
    last().deliver({ type: "price", seq: 42, offer_id: "a", old_price: 1, new_price: 2, ts: "" });

    last().drop();
    expect(statuses.at(-1)).toEqual(["reconnecting", 500]);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(499);
    expect(FakeSocket.all).toHaveLength(1); // not before the delay
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(2);
    last().drop(); // the retry fails too: the next delay doubles
    expect(statuses.at(-1)).toEqual(["reconnecting", 1000]);
    vi.advanceTimersByTime(1000);
    last().open();
    expect(statuses.at(-1)).toEqual(["open", undefined]);
    // the same filters, resumed from the last seq seen: the server replays what was missed, no fresh snapshot
    expect(last().sent).toEqual([{ action: "subscribe", filters: { gpu: ["H100"] }, resume_from: 42 }]);

    last().drop(); // an open connection resets the backoff
    expect(statuses.at(-1)).toEqual(["reconnecting", 500]);
  });

  it("caps the delay at 30 s however many attempts fail", () => {
    const { live, statuses } = client(() => 1);
    live.start();
    for (let i = 0; i < 12; i++) {
      last().drop();
      const [, delay] = statuses.at(-1)!;
      vi.advanceTimersByTime(delay!);
    }
    const delays = statuses.filter(([s, d]) => s === "reconnecting" && d !== undefined).map(([, d]) => d!);
    expect(Math.max(...delays)).toBe(BACKOFF_CAP_MS);
    expect(delays.slice(-3)).toEqual([BACKOFF_CAP_MS, BACKOFF_CAP_MS, BACKOFF_CAP_MS]);
  });

  it("a filter change is a new subscription (no resume_from), sent on the open connection", () => {
    const { live } = client();
    live.start();
    last().open();
    live.subscribe({ provider: ["verda"] });
    last().deliver({ type: "price", seq: 7, offer_id: "a", old_price: 1, new_price: 2, ts: "" });
    live.subscribe({ provider: ["runpod"] });
    expect(last().sent).toEqual([
      { action: "subscribe", filters: { provider: ["verda"] } },
      { action: "subscribe", filters: { provider: ["runpod"] } },
    ]);
  });

  it("pings every 30 s while open and stops everything on stop()", () => {
    const { live, statuses } = client();
    live.start();
    last().open();
    vi.advanceTimersByTime(60_000);
    expect(last().sent).toEqual([{ action: "ping" }, { action: "ping" }]);
    live.stop();
    expect(statuses.at(-1)).toEqual(["closed", undefined]);
    vi.advanceTimersByTime(120_000);
    expect(FakeSocket.all).toHaveLength(1); // no reconnect after stop
    expect(last().sent).toHaveLength(2);
  });

  it("unpacks batches and ignores frames that are not JSON", () => {
    const { live, messages } = client();
    live.start();
    last().open();
    last().onmessage?.({ data: "not json" });
    last().deliver({ type: "batch", messages: [{ type: "price", seq: 1 }, { type: "removed", seq: 2 }] });
    expect(messages).toEqual([{ type: "price", seq: 1 }, { type: "removed", seq: 2 }]);
  });
});
