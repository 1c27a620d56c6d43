import { useEffect, useState } from "react";
import { loadConfig } from "../api/client";
import type { Booking } from "../api/types";
import { useAuth } from "../auth/useAuth";
import { LiveClient } from "../live/ws";
import { SETTLED } from "./status";

const POLL_MS = 3_000;

/** The booking as it changes: the owner's signed-in WebSocket pushes `{"type": "booking"}` frames; while that
 * connection is not open (no WebSocket here, or a browser that cannot send the fingerprint cookie to it, as in
 * AWS where the WebSocket API has its own domain) an unsettled booking is polled instead. */
export function useLiveBooking(initial: Booking | null): { booking: Booking | null; live: boolean } {
  const { session } = useAuth();
  const [booking, setBooking] = useState<Booking | null>(initial);
  const [live, setLive] = useState(false);
  const id = initial?.booking_id ?? null;

  useEffect(() => setBooking(initial), [initial]);

  useEffect(() => {
    if (!id) return;
    let client: LiveClient | null = null;
    let cancelled = false;
    void loadConfig().then(({ ws }) => {
      const token = session.accessToken();
      if (cancelled || !ws || !token) return;
      const url = `${ws.replace(/\/$/, "")}/?token=${encodeURIComponent(token)}`;
      client = new LiveClient({
        url,
        onMessage: (m) => {
          const pushed = (m.type === "booking" ? (m.booking as Booking | undefined) : undefined);
          if (pushed?.booking_id === id) setBooking((b) => ({ ...(b ?? pushed), ...pushed }));
        },
        onStatus: (s) => setLive(s === "open"),
      });
      client.start();
    });
    return () => {
      cancelled = true;
      client?.stop();
    };
  }, [id, session]);

  const settled = booking ? SETTLED.has(booking.status) : true;
  useEffect(() => {
    if (!id || live || settled) return;
    const timer = setInterval(() => {
      session.call<Booking>(`/bookings/${encodeURIComponent(id)}`).then(setBooking, () => undefined);
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [id, live, settled, session]);

  return { booking, live };
}
