import { useEffect, useRef, useState } from "react";
import { loadConfig } from "../api/client";
import type { LiveMessage } from "../api/types";
import { type Direction, Highlights } from "./highlights";
import { PriceBook, type PriceUpdate } from "./prices";
import { LiveClient, type LiveFilters, type LiveStatus } from "./ws";

let config: ReturnType<typeof loadConfig> | null = null;

/** Live prices for `filters` over one connection for the page's life (a filter change re-subscribes on it): the
 * updates of each message as it arrives (a replayed or older one dropped), which offers changed in the last 3 s,
 * and the connection's state. */
export function useLivePrices(filters: LiveFilters, onChange: (updates: PriceUpdate[]) => void) {
  const [status, setStatus] = useState<{ status: LiveStatus | "unavailable"; retryInMs?: number }>({ status: "connecting" });
  const [highlighted, setHighlighted] = useState<ReadonlyMap<string, Direction>>(new Map());
  const [client, setClient] = useState<LiveClient | null>(null);
  const book = useRef(new PriceBook());
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
        const updates = book.current.apply(m);
        if (!updates.length) return;
        for (const u of updates) {
          if (!u.fromSnapshot && u.price !== null && u.old !== u.price) {
            highlights.mark(u.offerId, u.old !== null && u.price < u.old ? "down" : "up");
          }
        }
        handler.current(updates);
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
    book.current.reset();
    client?.subscribe(JSON.parse(key));
  }, [client, key]);

  return { status, highlighted };
}
