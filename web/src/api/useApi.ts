import { useCallback, useEffect, useRef, useState } from "react";
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
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const key = path === null ? null : `${path}\n${payload ?? ""}`;
  return useRequest<T>(key, (signal) =>
    payload === undefined
      ? apiGet<T>(path!, { signal })
      : apiPost<T>(path!, JSON.parse(payload), { signal }),
  );
}

/** The answer of `run` for `key` (null: nothing yet); a newer key, or a reload, aborts the request in flight. */
export function useRequest<T>(key: string | null, run: (signal: AbortSignal) => Promise<T>): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: unknown; loading: boolean }>({
    data: null,
    error: null,
    loading: key !== null,
  });
  const [tick, setTick] = useState(0);
  const latest = useRef(run);
  latest.current = run;
  useEffect(() => {
    if (key === null) return;
    const ctrl = new AbortController();
    setState((s) => ({ ...s, error: null, loading: true }));
    latest.current(ctrl.signal).then(
      (data) => {
        if (!ctrl.signal.aborted) setState({ data, error: null, loading: false });
      },
      (error) => {
        if (!ctrl.signal.aborted) setState({ data: null, error, loading: false });
      },
    );
    return () => ctrl.abort();
  }, [key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}
