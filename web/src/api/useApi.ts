import { useCallback, useEffect, useState } from "react";
import { apiGet, apiPost } from "./client";

export interface Loaded<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** GET `path` (null: nothing yet), or POST `body` to it; a newer path or body, or a reload, aborts the request in
 * flight. */
export function useApi<T>(path: string | null, body?: unknown): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: unknown; loading: boolean }>({
    data: null,
    error: null,
    loading: path !== null,
  });
  const [tick, setTick] = useState(0);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  useEffect(() => {
    if (path === null) return;
    const ctrl = new AbortController();
    setState((s) => ({ ...s, error: null, loading: true }));
    const request = payload === undefined
      ? apiGet<T>(path, { signal: ctrl.signal })
      : apiPost<T>(path, JSON.parse(payload), { signal: ctrl.signal });
    request.then(
      (data) => setState({ data, error: null, loading: false }),
      (error) => {
        if (!ctrl.signal.aborted) setState({ data: null, error, loading: false });
      },
    );
    return () => ctrl.abort();
  }, [path, payload, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}
