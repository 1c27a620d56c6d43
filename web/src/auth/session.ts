// The signed-in session, outside React: the access token in memory only, the refresh token in the tab's
// sessionStorage (a reload keeps the session, closing the tab ends it), the fingerprint cookie left to the browser
// (HttpOnly, set by POST /auth/login and /auth/refresh on this origin: every call sends it with credentials
// "same-origin"). A 401 refreshes once (one refresh in flight, shared by every caller) and retries once.
import { ApiError, readJson } from "../api/client";

export interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  refresh_expires_in: number;
}

export interface MfaRequired {
  mfa_required: true;
  challenge: string;
  expires_in: number;
}

/** What the access token says of its holder (the API signs it; the app only reads it to show things). */
export interface Claims {
  sub: string;
  plan: string;
  roles: string[];
  email_verified: boolean;
  exp: number;
}

export interface User extends Claims {
  email: string | null;
}

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const REFRESH_KEY = "gpubroker.refresh";
const EMAIL_KEY = "gpubroker.email";

export function decodeClaims(jwt: string): Claims {
  const part = jwt.split(".")[1] ?? "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  const raw = JSON.parse(json) as Partial<Claims>;
  return {
    sub: String(raw.sub ?? ""),
    plan: String(raw.plan ?? "free"),
    roles: Array.isArray(raw.roles) ? raw.roles.map(String) : [],
    email_verified: raw.email_verified === true,
    exp: Number(raw.exp ?? 0),
  };
}

const JSON_HEADERS = { accept: "application/json", "content-type": "application/json" };

export class Session {
  private access: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private listeners = new Set<() => void>();
  private snapshot: User | null = null;

  constructor(
    private readonly fetchImpl: typeof fetch,
    private readonly store: KeyValueStore,
  ) {}

  /** The signed-in user, or null; stable between changes (for useSyncExternalStore). */
  user = (): User | null => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** The access token (for the WebSocket handshake's ?token=), or null. */
  accessToken(): string | null {
    return this.access;
  }

  /** An access token good for at least `marginS` more seconds, through the one shared refresh when the kept one is
   * missing or about to expire (a WebSocket reconnect's handshake); null when signed out. Throws when a refresh
   * failed but the session is kept (network, 5xx): the caller retries later. */
  async freshAccessToken(marginS = 30, nowMs: number = Date.now()): Promise<string | null> {
    if (this.access && decodeClaims(this.access).exp - marginS > nowMs / 1000) return this.access;
    if (!this.resumable) return null;
    if (await this.refresh()) return this.access;
    if (this.resumable) throw new ApiError(0, "refresh_failed", "the session could not be refreshed now");
    return null;
  }

  /** Whether a refresh token is kept (a session may be resumed). */
  get resumable(): boolean {
    return this.store.getItem(REFRESH_KEY) !== null;
  }

  private changed(): void {
    this.snapshot = this.access
      ? { ...decodeClaims(this.access), email: this.store.getItem(EMAIL_KEY) }
      : null;
    this.listeners.forEach((l) => l());
  }

  private accept(tokens: Tokens): void {
    this.access = tokens.access_token;
    this.store.setItem(REFRESH_KEY, tokens.refresh_token);
    this.changed();
  }

  private forget(): void {
    this.access = null;
    this.store.removeItem(REFRESH_KEY);
    this.store.removeItem(EMAIL_KEY);
    this.changed();
  }

  private async post<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(path, {
        method: "POST",
        credentials: "same-origin",
        headers: { ...JSON_HEADERS, ...headers },
        body: JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "network_error", "the API could not be reached");
    }
    return readJson<T>(res);
  }

  register(email: string, password: string): Promise<{ status: string }> {
    return this.post("/auth/register", { email, password });
  }

  /** Signs in; a 202 answers the MFA challenge to pass to verifyMfa. */
  async login(email: string, password: string): Promise<MfaRequired | null> {
    const answer = await this.post<Tokens | MfaRequired>("/auth/login", { email, password });
    this.store.setItem(EMAIL_KEY, email);
    if ("mfa_required" in answer) return answer;
    this.accept(answer);
    return null;
  }

  async verifyMfa(challenge: string, code: string): Promise<void> {
    const answer = await this.post<Tokens | { status: string }>("/auth/mfa/verify", { challenge, code });
    if ("access_token" in answer) this.accept(answer);
  }

  /** Spends the refresh token for a new pair; false (and signed out) when it is refused. One at a time. */
  refresh(): Promise<boolean> {
    if (this.refreshing) return this.refreshing;
    const token = this.store.getItem(REFRESH_KEY);
    if (!token) return Promise.resolve(false);
    this.refreshing = this.post<Tokens>("/auth/refresh", { refresh_token: token })
      .then((tokens) => {
        this.accept(tokens);
        return true;
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status !== 0 && err.status < 500) this.forget();
        return false;
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  async logout(): Promise<void> {
    const token = this.store.getItem(REFRESH_KEY);
    try {
      if (token) await this.post("/auth/logout", { refresh_token: token });
    } finally {
      this.forget();
    }
  }

  /** Drops this tab's session without calling the API: its tokens were revoked there already (a password reset
   * signs every session out), so a logout or refresh would only be refused. */
  discard(): void {
    if (this.access || this.resumable) this.forget();
  }

  private send(path: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    if (!headers.has("accept")) headers.set("accept", "application/json");
    if (this.access) headers.set("authorization", `Bearer ${this.access}`);
    return this.fetchImpl(path, { ...init, credentials: "same-origin", headers });
  }

  /** A signed-in call: the access token attached; a 401 refreshes once and retries once. */
  async call<T>(path: string, init: RequestInit = {}): Promise<T> {
    if (!this.access && this.resumable) await this.refresh();
    let res: Response;
    try {
      res = await this.send(path, init);
      if (res.status === 401 && (await this.refresh())) res = await this.send(path, init);
    } catch (err) {
      if ((err as Error).name === "AbortError") throw err;
      throw new ApiError(0, "network_error", "the API could not be reached");
    }
    return readJson<T>(res);
  }

  callPost<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
    return this.call<T>(path, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { ...JSON_HEADERS, ...headers },
    });
  }
}
