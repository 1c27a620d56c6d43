import { createContext, useEffect, useMemo, type ReactNode } from "react";
import { Session, type User } from "./session";

export const SessionContext = createContext<Session | null>(null);

/** One session for the app; a kept refresh token is spent at start so a reload stays signed in. */
export function AuthProvider({ children, session }: { children: ReactNode; session?: Session }) {
  const value = useMemo(() => session ?? new Session(window.fetch.bind(window), window.sessionStorage), [session]);
  useEffect(() => {
    if (value.resumable && !value.user()) void value.refresh();
  }, [value]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export type { User };
