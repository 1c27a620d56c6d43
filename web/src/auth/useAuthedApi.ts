import { useRequest, type Loaded } from "../api/useApi";
import { useAuth } from "./useAuth";

/** A signed-in GET of `path` (null: nothing yet), refetched when the signed-in user changes. */
export function useAuthedApi<T>(path: string | null): Loaded<T> {
  const { session, user } = useAuth();
  const key = path === null || user === null ? null : `${user.sub}\n${path}`;
  return useRequest<T>(key, (signal) => session.call<T>(path!, { signal }));
}
