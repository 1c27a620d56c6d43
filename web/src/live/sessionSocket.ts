// A signed-in WebSocket's connection options (the booking detail's live status): the handshake's token is asked of
// the session before every connection, so a reconnect after the access token expired carries a new one; a refused
// handshake (an expired or revoked token the client did not know of) spends the session's one shared refresh and
// reconnects at once; a second refusal in a row backs off (LiveClient); signed out, the client stops.
import type { Session } from "../auth/session";
import { type LiveClientOptions, type RefusedAction, withToken } from "./ws";

type SessionPort = Pick<Session, "freshAccessToken" | "refresh" | "resumable">;

export function sessionConnection(session: SessionPort, base: string): Pick<LiveClientOptions, "url" | "onRefused"> {
  return {
    url: async () => {
      const token = await session.freshAccessToken();
      return token === null ? null : withToken(base, token);
    },
    onRefused: async (): Promise<RefusedAction> => {
      if (await session.refresh()) return "retry";
      return session.resumable ? "backoff" : "stop"; // refused by the API: signed out; else (network) try later
    },
  };
}
