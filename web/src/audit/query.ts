// The Audit page's state lives in the URL: the same names and values as GET /audit's filters (shareable, the back
// button works), parsed into typed values and written back in one canonical order with empty ones left out. Times
// travel as ISO 8601 UTC ("2026-12-05T10:00:00.000Z"); the form shows and takes them in the browser's time zone.

export const TEXT_FILTERS = [
  ["actor", "Actor", "user:<id> or anon:<ip>"],
  ["action", "Action", "auth, auth.login, booking…"],
  ["resource", "Resource", "booking/<id>, /auth/login"],
  ["request_id", "Request id", "the correlation id"],
] as const;
export type TextFilter = (typeof TEXT_FILTERS)[number][0];

/** GET /audit's outcome classes (a class matches its refinements: "refused" matches "refused:401:reused"). */
export const OUTCOMES = [
  ["", "any outcome"],
  ["ok", "ok"],
  ["refused", "refused (4xx)"],
  ["error", "error (5xx)"],
] as const;

export interface AuditQuery {
  actor: string;
  action: string;
  resource: string;
  request_id: string;
  /** an outcome or its class; "" for any */
  outcome: string;
  /** ISO 8601 UTC, inclusive; "" for no bound */
  since: string;
  /** ISO 8601 UTC, exclusive; "" for no bound */
  until: string;
}

export const EMPTY_AUDIT_QUERY: AuditQuery = {
  actor: "", action: "", resource: "", request_id: "", outcome: "", since: "", until: "",
};

const FIELDS = ["actor", "action", "resource", "request_id", "outcome", "since", "until"] as const;
const MAX_LENGTH: Record<(typeof FIELDS)[number], number> = {
  actor: 256, action: 128, resource: 512, request_id: 256, outcome: 128, since: 40, until: 40,
};
// a zone is required: the API refuses a time without one (its meaning would depend on the server)
const ZONED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** A time with a zone as ISO 8601 UTC, or "" when it is not one (dropped rather than sent and refused). */
export function utcTime(value: string): string {
  const v = value.trim();
  if (!ZONED.test(v)) return "";
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? "" : new Date(ms).toISOString();
}

/** The URL's query as typed state; a value the API would refuse (too long, a time without a zone) is dropped. */
export function parseAuditQuery(search: URLSearchParams): AuditQuery {
  const out = { ...EMPTY_AUDIT_QUERY };
  for (const name of FIELDS) {
    const raw = (search.get(name) ?? "").trim();
    if (!raw || raw.length > MAX_LENGTH[name]) continue;
    out[name] = name === "since" || name === "until" ? utcTime(raw) : raw;
  }
  return out;
}

/** The state as a query string in canonical order, empty values left out: the page's URL and GET /audit's filter. */
export function toAuditSearchParams(query: AuditQuery): URLSearchParams {
  const out = new URLSearchParams();
  for (const name of FIELDS) {
    const v = query[name].trim();
    if (v) out.set(name, v);
  }
  return out;
}

/** GET /audit for the state: a page of `limit` entries, after `cursor` when given. */
export function auditPath(query: AuditQuery, limit: number, cursor?: string | null): string {
  const qs = toAuditSearchParams(query);
  qs.set("limit", String(limit));
  if (cursor) qs.set("cursor", cursor);
  return `/audit?${qs}`;
}

export function activeAuditFilters(query: AuditQuery): number {
  return FIELDS.filter((name) => query[name] !== "").length;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** An ISO UTC time as a datetime-local input's value in the browser's zone ("" stays ""). */
export function toLocalInput(iso: string): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local input's value (the browser's zone) as ISO UTC ("" when empty or incomplete). */
export function fromLocalInput(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return "";
  const d = new Date(value); // no zone: the browser's local time, per ECMAScript's date-time form
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

export interface EntriesPage<T> {
  items: T[];
  next_cursor: string | null;
  scanned?: number;
}

/** A filtered GET /audit reads a bounded number of entries per call, so a page can come back short (even empty)
 * with a cursor. One "load" follows the cursor until `pageSize` entries are found, the log ends, or `maxCalls`
 * calls were made (then the caller offers to search further): what was found, where to go on, entries searched. */
export async function collectPage<T>(
  fetchPage: (limit: number, cursor: string | null) => Promise<EntriesPage<T>>,
  cursor: string | null,
  pageSize: number,
  maxCalls: number,
): Promise<{ items: T[]; next: string | null; scanned: number; calls: number }> {
  const items: T[] = [];
  let next = cursor;
  let scanned = 0;
  let calls = 0;
  do {
    const page = await fetchPage(pageSize - items.length, next);
    calls += 1;
    items.push(...page.items);
    scanned += page.scanned ?? page.items.length;
    next = page.next_cursor;
  } while (next !== null && items.length < pageSize && calls < maxCalls);
  return { items, next, scanned, calls };
}
