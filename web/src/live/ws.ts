// The live-price client: one WebSocket, the current subscription, reconnect with backoff, resubscribe after it.
import type { LiveMessage } from "../api/types";
import { backoffDelay } from "./backoff";

export type LiveStatus = "connecting" | "open" | "reconnecting" | "closed";
export type LiveFilters = Record<string, unknown>;

export interface LiveClientOptions {
  url: string;
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
  status: LiveStatus = "closed";

  constructor(private readonly opts: LiveClientOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open("connecting");
  }

  stop(): void {
    this.stopped = true;
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
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    let ws: WebSocket;
    try {
      ws = new Impl(this.opts.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setStatus("open");
      this.sendSubscribe();
      this.pingTimer = setInterval(() => this.send({ action: "ping" }), this.opts.pingMs ?? 30_000);
    };
    ws.onmessage = (event: MessageEvent) => this.receive(event.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearTimers();
      if (!this.stopped) this.scheduleReconnect();
    };
    ws.onerror = () => {
      /* a close follows every error: the reconnect is scheduled there */
    };
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
