// One way to call the API: same origin (the app is served beside it), JSON in and out, one error type.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** seconds until a retry may succeed (a 429's Retry-After) */
    readonly retryAfter: number | null = null,
    /** the error's details (a 422's broken rules: [{loc, type, msg}]) */
    readonly details: unknown = null,
  ) {
    super(message);
  }
}

function retryAfterSeconds(value: string | null): number | null {
  if (!value) return null;
  const n = Number(value);
  if (Number.isFinite(n)) return Math.max(0, Math.ceil(n));
  const at = Date.parse(value); // the HTTP-date form
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

export async function apiGet<T>(path: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { credentials: "same-origin", headers: { accept: "application/json" }, ...init });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, "network_error", "the API could not be reached");
  }
  return readJson<T>(res);
}

/** The body of an API answer, or its error as an ApiError. */
export async function readJson<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
    throw new ApiError(
      res.status,
      error?.code ?? `http_${res.status}`,
      error?.message ?? res.statusText ?? "request failed",
      res.status === 429 ? retryAfterSeconds(res.headers.get("retry-after")) : null,
      error?.details ?? null,
    );
  }
  return body as T;
}

export function apiPost<T>(path: string, body: unknown, init?: RequestInit): Promise<T> {
  return apiGet<T>(path, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { accept: "application/json", "content-type": "application/json" },
    ...init,
  });
}

export interface AppConfig {
  /** the live-price WebSocket URL; null: no live prices here */
  ws: string | null;
}

export async function loadConfig(): Promise<AppConfig> {
  try {
    return await apiGet<AppConfig>(`${import.meta.env.BASE_URL}config.json`);
  } catch {
    return { ws: null };
  }
}
