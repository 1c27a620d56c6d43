import { useContext, useSyncExternalStore } from "react";
import { SessionContext } from "./AuthProvider";
import type { Session, User } from "./session";

/** The session (sign in, out, signed-in calls) and the signed-in user, re-rendering when either changes. */
export function useAuth(): { session: Session; user: User | null } {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useAuth needs an AuthProvider");
  const user = useSyncExternalStore(session.subscribe, session.user, session.user);
  return { session, user };
}
