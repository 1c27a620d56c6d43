// The live-price client: one WebSocket, the current subscription, reconnect with backoff, resubscribe after it; a
// signed-in socket takes a fresh URL (token) for every connection and may refresh once after a refused handshake.
import type { LiveMessage } from "../api/types";
import { backoffDelay } from "./backoff";

export type LiveStatus = "connecting" | "open" | "reconnecting" | "closed";
export type LiveFilters = Record<string, unknown>;

/** After a handshake that was refused (closed before it opened): reconnect at once, back off, or give up. */
export type RefusedAction = "retry" | "backoff" | "stop";

export interface LiveClientOptions {
  /** The URL, or what gives it before every connection (a signed-in socket's carries a fresh access token); null:
   * nothing to connect as (signed out), so the client stops; a rejection counts as a failed attempt (backoff). */
  url: string | (() => Promise<string | null>);
  /** Called when a handshake is refused (the socket closed before it opened: a browser cannot tell a 401 from a
   * network failure), at most once until a connection opens again: e.g. refresh the token, then "retry". A second
   * refusal in a row backs off without asking. Absent: every failure backs off. */
  onRefused?: () => Promise<RefusedAction>;
  onMessage: (message: LiveMessage) => void;
  onStatus?: (status: LiveStatus, retryInMs?: number) => void;
  /** the WebSocket constructor (tests pass a fake) */
  WebSocketImpl?: typeof WebSocket;
  random?: () => number;
  /** the protocol asks for a ping every 30 s (silent > 90 s: the server closes the connection) */
  pingMs?: number;
}

export class LiveClient {
  private ws: WebSocket | null = null;
  private filters: LiveFilters | null = null;
  private lastSeq = 0; // the highest seq applied for the current filters: the resume point after a reconnect
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private stopped = true;
  private refusedAsked = false; // onRefused was called since the last open connection
  private generation = 0; // bumped by every open/stop: an answer that arrives for an older one is dropped
  status: LiveStatus = "closed";

  constructor(private readonly opts: LiveClientOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open("connecting");
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      ws.close();
    }
    this.setStatus("closed");
  }

  /** Follow these filters from now on (a new subscription: a fresh snapshot, no resume). */
  subscribe(filters: LiveFilters): void {
    this.filters = filters;
    this.lastSeq = 0;
    this.sendSubscribe();
  }

  private open(status: LiveStatus): void {
    this.setStatus(status);
    const url = this.opts.url;
    if (typeof url === "string") return this.connect(url);
    const generation = ++this.generation;
    url().then(
      (resolved) => {
        if (this.stopped || generation !== this.generation) return;
        if (resolved === null) this.stop();
        else this.connect(resolved);
      },
      () => {
        if (!this.stopped && generation === this.generation) this.scheduleReconnect();
      },
    );
  }

  private connect(url: string): void {
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    let ws: WebSocket;
    try {
      ws = new Impl(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.attempt = 0;
      this.refusedAsked = false;
      this.setStatus("open");
      this.sendSubscribe();
      this.pingTimer = setInterval(() => this.send({ action: "ping" }), this.opts.pingMs ?? 30_000);
    };
    ws.onmessage = (event: MessageEvent) => this.receive(event.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearTimers();
      if (this.stopped) return;
      if (!opened && this.opts.onRefused && !this.refusedAsked) this.askRefused(this.opts.onRefused);
      else this.scheduleReconnect();
    };
    ws.onerror = () => {
      /* a close follows every error: the reconnect is scheduled there */
    };
  }

  private askRefused(onRefused: () => Promise<RefusedAction>): void {
    this.refusedAsked = true;
    this.setStatus("reconnecting");
    const generation = ++this.generation;
    const settle = (action: RefusedAction) => {
      if (this.stopped || generation !== this.generation) return;
      if (action === "stop") this.stop();
      else if (action === "retry") this.open("reconnecting");
      else this.scheduleReconnect();
    };
    onRefused().then(settle, () => settle("backoff"));
  }

  private scheduleReconnect(): void {
    const delay = backoffDelay(this.attempt++, this.opts.random);
    this.setStatus("reconnecting", delay);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.open("reconnecting");
    }, delay);
  }

  private sendSubscribe(): void {
    if (!this.filters) return;
    const resume = this.lastSeq > 0 ? { resume_from: this.lastSeq } : {};
    this.send({ action: "subscribe", filters: this.filters, ...resume });
  }

  private send(message: object): void {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(message));
  }

  private receive(data: unknown): void {
    let frame: LiveMessage & { messages?: LiveMessage[] };
    try {
      frame = JSON.parse(String(data));
    } catch {
      return;
    }
    const messages = frame.type === "batch" && Array.isArray(frame.messages) ? frame.messages : [frame];
    for (const message of messages) {
      if (typeof message.seq === "number") this.lastSeq = Math.max(this.lastSeq, message.seq);
      this.opts.onMessage(message);
    }
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.retryTimer = this.pingTimer = null;
  }

  private setStatus(status: LiveStatus, retryInMs?: number): void {
    this.status = status;
    this.opts.onStatus?.(status, retryInMs);
  }
}

/** `base` with the access token as the `token` query parameter, as $connect reads it (`wss://host/ws?token=...`). */
export function withToken(base: string, token: string): string {
  const url = new URL(base);
  url.searchParams.set("token", token);
  return url.toString();
}
