import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { Session, type KeyValueStore, decodeClaims } from "./session";

function jwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => btoa(JSON.stringify(o)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${b64({ alg: "EdDSA" })}.${b64(claims)}.sig`;
}

function memory(): KeyValueStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

type Handler = (path: string, init: RequestInit) => Response;

/** A fake API recording each request: the path, its bearer token and its credentials mode. */
function api(handler: Handler) {
  const calls: { path: string; auth: string | null; credentials: RequestCredentials | undefined }[] = [];
  const fetchImpl = (async (path: string, init: RequestInit = {}) => {
    calls.push({ path, auth: new Headers(init.headers).get("authorization"), credentials: init.credentials });
    return handler(path, init);
  }) as typeof fetch;
  return { calls, fetchImpl };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status });
const tokens = (n: number) => ({
  access_token: jwt({ sub: "u1", plan: "pro", roles: ["admin"], email_verified: true, exp: n }),
  refresh_token: `r${n}`,
  expires_in: 900,
  refresh_expires_in: 86400,
});

describe("Session", () => {
  it("decodes the claims of a base64url token", () => {
    const claims = decodeClaims(jwt({ sub: "u?>", plan: "free", roles: [], email_verified: false, exp: 5 }));
    expect(claims).toEqual({ sub: "u?>", plan: "free", roles: [], email_verified: false, exp: 5 });
  });

  it("on a 401 refreshes once, keeps the new pair and retries with the new access token", async () => {
    let n = 1;
    const { calls, fetchImpl } = api((path, init) => {
      if (path === "/auth/login") return json(200, tokens(1));
      if (path === "/auth/refresh") {
        expect(JSON.parse(String(init.body))).toEqual({ refresh_token: "r1" });
        return json(200, tokens(++n));
      }
      const auth = new Headers(init.headers).get("authorization");
      return auth === `Bearer ${tokens(2).access_token}` ? json(200, { ok: true }) : json(401, { error: { code: "token_expired" } });
    });
    const store = memory();
    const session = new Session(fetchImpl, store);
    await session.login("a@example.com", "pw");
    expect(session.user()).toMatchObject({ sub: "u1", email: "a@example.com", roles: ["admin"] });
    expect(await session.call("/bookings")).toEqual({ ok: true });
    expect(calls.map((c) => c.path)).toEqual(["/auth/login", "/bookings", "/auth/refresh", "/bookings"]);
    expect(calls.every((c) => c.credentials === "same-origin")).toBe(true); // the fingerprint cookie goes along
    expect(store.data.get("gpubroker.refresh")).toBe("r2");
    expect(session.user()?.exp).toBe(2);
  });

  it("retries only once: a second 401 is the caller's error", async () => {
    const { calls, fetchImpl } = api((path) =>
      path === "/auth/refresh" || path === "/auth/login" ? json(200, tokens(1)) : json(401, { error: { code: "unauthorized" } }),
    );
    const session = new Session(fetchImpl, memory());
    await session.login("a@example.com", "pw");
    await expect(session.call("/audit")).rejects.toMatchObject({ status: 401, code: "unauthorized" });
    expect(calls.filter((c) => c.path === "/audit")).toHaveLength(2);
    expect(calls.filter((c) => c.path === "/auth/refresh")).toHaveLength(1);
  });

  it("shares one refresh between concurrent 401s", async () => {
    let refreshes = 0;
    const { fetchImpl } = api((path, init) => {
      if (path === "/auth/login") return json(200, tokens(1));
      if (path === "/auth/refresh") return json(200, tokens(1 + ++refreshes));
      const ok = new Headers(init.headers).get("authorization") !== `Bearer ${tokens(1).access_token}`;
      return ok ? json(200, path) : json(401, {});
    });
    const session = new Session(fetchImpl, memory());
    await session.login("a@example.com", "pw");
    expect(await Promise.all([session.call("/a"), session.call("/b"), session.call("/c")])).toEqual(["/a", "/b", "/c"]);
    expect(refreshes).toBe(1);
  });

  it("a refused refresh signs out and forgets the refresh token", async () => {
    const { fetchImpl } = api((path) =>
      path === "/auth/login" ? json(200, tokens(1)) : path === "/auth/refresh" ? json(401, { error: { code: "refresh_refused" } }) : json(401, {}),
    );
    const store = memory();
    const session = new Session(fetchImpl, store);
    await session.login("a@example.com", "pw");
    await expect(session.call("/bookings")).rejects.toBeInstanceOf(ApiError);
    expect(session.user()).toBeNull();
    expect(store.data.has("gpubroker.refresh")).toBe(false);
  });

  it("discard forgets the session without a call (a password reset revoked it already)", async () => {
    const { calls, fetchImpl } = api(() => json(200, tokens(1)));
    const store = memory();
    const session = new Session(fetchImpl, store);
    await session.login("a@example.com", "pw");
    let told = 0;
    session.subscribe(() => void (told += 1));
    session.discard();
    expect([session.user(), session.resumable, store.data.size, told]).toEqual([null, false, 0, 1]);
    session.discard(); // nothing left: nobody is told again
    expect([calls.length, told]).toEqual([1, 1]);
  });

  it("resumes a kept session by refreshing before the first call", async () => {
    const { calls, fetchImpl } = api((path) => (path === "/auth/refresh" ? json(200, tokens(3)) : json(200, [])));
    const store = memory();
    store.setItem("gpubroker.refresh", "r-old");
    const session = new Session(fetchImpl, store);
    await session.call("/bookings");
    expect(calls.map((c) => [c.path, c.auth])).toEqual([["/auth/refresh", null], ["/bookings", `Bearer ${tokens(3).access_token}`]]);
  });

  it("answers the MFA challenge of a 202 login, then keeps the tokens of the verification", async () => {
    const { fetchImpl } = api((path) =>
      path === "/auth/login" ? json(202, { mfa_required: true, challenge: "ch", expires_in: 300 }) : json(200, tokens(4)),
    );
    const session = new Session(fetchImpl, memory());
    const step = await session.login("a@example.com", "pw");
    expect(step?.challenge).toBe("ch");
    expect(session.user()).toBeNull();
    await session.verifyMfa("ch", "123456");
    expect(session.user()?.exp).toBe(4);
  });
});
