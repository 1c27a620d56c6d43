/** Test support, imported only by the live clients' tests: a WebSocket the test drives. It records what the client
 * sends, and opens, delivers, refuses (closes before opening, as a browser reports a refused handshake) or drops an
 * open connection on command. */
export class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  deliver(frame: object) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  refuse() {
    this.readyState = 3;
    this.onerror?.();
    this.onclose?.();
  }
  drop() {
    this.readyState = 3;
    this.onclose?.();
  }
  get token(): string | null {
    return new URL(this.url).searchParams.get("token");
  }
}

/** The socket the client opened last. */
export const lastSocket = () => FakeSocket.all[FakeSocket.all.length - 1];
