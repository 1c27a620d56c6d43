import { useEffect, useRef, useState } from "react";
import { loadConfig } from "../api/client";
import type { LiveMessage } from "../api/types";
import { type Direction, Highlights } from "./highlights";
import { LiveClient, type LiveFilters, type LiveStatus } from "./ws";

export interface PriceChange {
  offerId: string;
  price: number | null; // per GPU-hour; null: the offer was removed
}

let config: ReturnType<typeof loadConfig> | null = null;

/** Live prices for `filters` over one connection for the page's life (a filter change re-subscribes on it): each
 * change as it arrives, which offers changed in the last 3 s, and the connection's state. */
export function useLivePrices(filters: LiveFilters, onChange: (change: PriceChange) => void) {
  const [status, setStatus] = useState<{ status: LiveStatus | "unavailable"; retryInMs?: number }>({ status: "connecting" });
  const [highlighted, setHighlighted] = useState<ReadonlyMap<string, Direction>>(new Map());
  const [client, setClient] = useState<LiveClient | null>(null);
  const handler = useRef(onChange);
  handler.current = onChange;
  const key = JSON.stringify(filters);

  useEffect(() => {
    let live: LiveClient | null = null;
    let cancelled = false;
    const highlights = new Highlights(setHighlighted);
    config ??= loadConfig();
    config.then(({ ws }) => {
      if (cancelled) return;
      if (!ws) return setStatus({ status: "unavailable" });
      const onMessage = (m: LiveMessage) => {
        if (m.type === "price" && typeof m.offer_id === "string" && typeof m.new_price === "number") {
          const old = typeof m.old_price === "number" ? m.old_price : null;
          if (old !== m.new_price) highlights.mark(m.offer_id, old !== null && m.new_price < old ? "down" : "up");
          handler.current({ offerId: m.offer_id, price: m.new_price });
        } else if (m.type === "removed" && typeof m.offer_id === "string") {
          handler.current({ offerId: m.offer_id, price: null });
        }
      };
      live = new LiveClient({ url: ws, onMessage, onStatus: (s, retryInMs) => setStatus({ status: s, retryInMs }) });
      live.start();
      setClient(live);
    });
    return () => {
      cancelled = true;
      live?.stop();
      highlights.clear();
    };
  }, []);

  useEffect(() => {
    client?.subscribe(JSON.parse(key));
  }, [client, key]);

  return { status, highlighted };
}
