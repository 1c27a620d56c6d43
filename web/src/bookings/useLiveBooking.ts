import { useEffect, useState } from "react";
import { loadConfig } from "../api/client";
import type { Booking } from "../api/types";
import { useAuth } from "../auth/useAuth";
import { sessionConnection } from "../live/sessionSocket";
import { LiveClient } from "../live/ws";
import { SETTLED } from "./status";

const POLL_MS = 3_000;

/** The booking as it changes: the owner's signed-in WebSocket pushes `{"type": "booking"}` frames (on the app's own
 * origin: /ws behind CloudFront in AWS, so the handshake carries the fingerprint cookie its token is bound to); every
 * (re)connection takes a fresh access token from the session, a refused handshake refreshes once, signing out stops
 * it (live/sessionSocket.ts). While that connection is not open an unsettled booking is polled instead. */
export function useLiveBooking(initial: Booking | null): { booking: Booking | null; live: boolean } {
  const { session, user } = useAuth();
  const signedIn = user !== null;
  const [booking, setBooking] = useState<Booking | null>(initial);
  const [live, setLive] = useState(false);
  const id = initial?.booking_id ?? null;

  useEffect(() => setBooking(initial), [initial]);

  useEffect(() => {
    if (!id || !signedIn) return;
    let client: LiveClient | null = null;
    let cancelled = false;
    void loadConfig().then(({ ws }) => {
      if (cancelled || !ws) return;
      client = new LiveClient({
        ...sessionConnection(session, ws),
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
      setLive(false);
    };
  }, [id, session, signedIn]);

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
