import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Session, type KeyValueStore } from "../auth/session";
import { sessionConnection } from "./sessionSocket";
import { FakeSocket, lastSocket } from "./fakeSocket";
import { LiveClient, type LiveStatus, withToken } from "./ws";

const last = lastSocket;
const NOW_S = 1_800_000_000;

function jwt(n: number, exp: number): string {
  const b64 = (o: unknown) => btoa(JSON.stringify(o)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${b64({ alg: "EdDSA" })}.${b64({ sub: "u1", plan: "free", roles: [], email_verified: true, exp, n })}.sig`;
}

function memory(): KeyValueStore {
  const data = new Map<string, string>();
  return { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v), removeItem: (k) => void data.delete(k) };
}

/** A fake auth API: each login/refresh hands out token n+1 (15 minutes); `refuseRefresh` makes /auth/refresh a 401
 * (the refresh family was revoked: signed out); `refreshDown` makes it a network failure. */
function auth() {
  const state = { n: 0, refreshes: 0, refuseRefresh: false, refreshDown: false };
  const fetchImpl = (async (path: string) => {
    if (path === "/auth/refresh") {
      state.refreshes++;
      if (state.refreshDown) throw new TypeError("network");
      if (state.refuseRefresh) return new Response(JSON.stringify({ error: { code: "invalid_token" } }), { status: 401 });
    }
    state.n++;
    const body = {
      access_token: jwt(state.n, Math.floor(Date.now() / 1000) + 900),
      refresh_token: `r${state.n}`,
      expires_in: 900,
      refresh_expires_in: 86400,
    };
    return new Response(JSON.stringify(body), { status: 200 });
  }) as unknown as typeof fetch;
  return { state, session: new Session(fetchImpl, memory()) };
}

async function signedInClient() {
  const { state, session } = auth();
  await session.login("a@example.com", "pw");
  const statuses: LiveStatus[] = [];
  const live = new LiveClient({
    ...sessionConnection(session, "wss://app.example.com/ws"),
    onMessage: () => undefined,
    onStatus: (s) => statuses.push(s),
    WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    random: () => 1,
  });
  return { state, session, live, statuses };
}

const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
  vi.setSystemTime(NOW_S * 1000);
});
afterEach(() => vi.useRealTimers());

describe("withToken", () => {
  it("puts the token in the query string of the app's /ws or of a bare local URL", () => {
    expect(withToken("wss://app.example.com/ws", "a.b+c")).toBe("wss://app.example.com/ws?token=a.b%2Bc");
    expect(withToken("ws://127.0.0.1:3001", "t")).toBe("ws://127.0.0.1:3001/?token=t");
  });
});

describe("a signed-in LiveClient", () => {
  it("connects with the session's token and reconnects with a new one once the first has expired", async () => {
    const { state, session, live } = await signedInClient();
    live.start();
    await settle();
    const first = last();
    expect(first.url.startsWith("wss://app.example.com/ws?token=")).toBe(true);
    expect(first.token).toBe(session.accessToken());
    first.open();

    vi.setSystemTime((NOW_S + 20 * 60) * 1000); // 20 minutes on: the 15-minute token has expired
    first.drop();
    await vi.advanceTimersByTimeAsync(500); // the backoff, then the URL asks for a fresh token
    const second = last();
    expect(FakeSocket.all).toHaveLength(2);
    expect(state.refreshes).toBe(1);
    expect(second.token).toBe(session.accessToken());
    expect(second.token).not.toBe(first.token);
  });

  it("keeps a token that is still good: no refresh for a reconnect within its lifetime", async () => {
    const { state, live } = await signedInClient();
    live.start();
    await settle();
    last().open();
    const token = last().token;
    last().drop();
    await vi.advanceTimersByTimeAsync(500);
    expect(state.refreshes).toBe(0);
    expect(last().token).toBe(token);
  });

  it("a refused handshake refreshes once and reconnects at once with the new token; a second refusal backs off", async () => {
    const { state, session, live, statuses } = await signedInClient();
    live.start();
    await settle();
    const stale = last().token;
    last().refuse(); // the server revoked or expired the token before the client knew
    await settle();
    expect(state.refreshes).toBe(1);
    expect(FakeSocket.all).toHaveLength(2); // no backoff wait before the retry
    expect(last().token).toBe(session.accessToken());
    expect(last().token).not.toBe(stale);

    last().refuse(); // refused again: no second refresh, a backoff instead
    await settle();
    expect(state.refreshes).toBe(1);
    expect(FakeSocket.all).toHaveLength(2);
    expect(statuses.at(-1)).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeSocket.all).toHaveLength(3);

    last().open(); // an open connection arms the one refresh again
    last().drop();
    await vi.advanceTimersByTimeAsync(500);
    last().refuse();
    await settle();
    expect(state.refreshes).toBe(2);
  });

  it("stops when the refresh says the session is over (signed out), and opens nothing more", async () => {
    const { state, session, live, statuses } = await signedInClient();
    live.start();
    await settle();
    state.refuseRefresh = true;
    last().refuse();
    await settle();
    expect(session.user()).toBeNull();
    expect(statuses.at(-1)).toBe("closed");
    await vi.advanceTimersByTimeAsync(120_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it("stops without connecting when there is no session to connect as", async () => {
    const { session } = auth(); // never signed in
    const statuses: LiveStatus[] = [];
    const live = new LiveClient({
      ...sessionConnection(session, "wss://app.example.com/ws"),
      onMessage: () => undefined,
      onStatus: (s) => statuses.push(s),
      WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    });
    live.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(0);
    expect(statuses).toEqual(["connecting", "closed"]);
  });

  it("backs off (and keeps the session) when the refresh cannot reach the API", async () => {
    const { state, session, live, statuses } = await signedInClient();
    live.start();
    await settle();
    state.refreshDown = true;
    last().refuse();
    await settle();
    expect(state.refreshes).toBe(1);
    expect(session.resumable).toBe(true);
    expect(statuses.at(-1)).toBe("reconnecting");
    state.refreshDown = false;
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it("a stop() while the token is being fetched opens nothing", async () => {
    const { live } = await signedInClient();
    live.start();
    live.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(0);
  });
});
