// The protocol's client rule (README, "Live prices over WebSocket"; tests/e2e/test_websocket.py's Client): per offer,
// a message counts only if its seq is greater than the last one applied. A resume replays from a little before the
// resume point, so a change can arrive twice; a snapshot (after a resync) carries every matching offer's price.
import type { LiveMessage } from "../api/types";

export interface PriceUpdate {
  offerId: string;
  /** per GPU-hour; null: the offer was removed */
  price: number | null;
  /** the price before, when the message says it (a snapshot does not: no highlight) */
  old: number | null;
  fromSnapshot: boolean;
}

export class PriceBook {
  private readonly last = new Map<string, number>();

  /** The updates ``message`` makes: those of offers whose seq moved forward. */
  apply(message: LiveMessage): PriceUpdate[] {
    const seq = message.seq;
    if (typeof seq !== "number") return [];
    if (message.type === "snapshot" && Array.isArray(message.offers)) {
      return (message.offers as { offer_id: string; price_per_gpu_hour: number }[])
        .filter((o) => this.advance(o.offer_id, seq))
        .map((o) => ({ offerId: o.offer_id, price: o.price_per_gpu_hour, old: null, fromSnapshot: true }));
    }
    if ((message.type === "price" || message.type === "removed") && typeof message.offer_id === "string") {
      if (!this.advance(message.offer_id, seq)) return [];
      const price = message.type === "price" && typeof message.new_price === "number" ? message.new_price : null;
      const old = typeof message.old_price === "number" ? message.old_price : null;
      return [{ offerId: message.offer_id, price, old, fromSnapshot: false }];
    }
    return [];
  }

  /** A new subscription starts a new sequence of snapshots and changes. */
  reset(): void {
    this.last.clear();
  }

  private advance(offerId: string, seq: number): boolean {
    if (seq <= (this.last.get(offerId) ?? -1)) return false;
    this.last.set(offerId, seq);
    return true;
  }
}
