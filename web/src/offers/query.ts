// The Offers page's state lives in the URL: the same names and values as GET /offers' query (shareable, the back
// button works), parsed into typed values, written back in one canonical order with defaults left out.

export const LIST_FILTERS = ["gpu", "provider", "region", "compliance", "gpu_vendor"] as const;
export type ListFilter = (typeof LIST_FILTERS)[number];

/** min_<name> / max_<name> pairs: [name, label, integer?] */
export const RANGE_FILTERS = [
  ["price_per_gpu_hour", "Price per GPU-hour (USD)", false],
  ["price_per_hour", "Price per hour (USD)", false],
  ["spot_price_per_hour", "Spot price per hour (USD)", false],
  ["gpu_memory_gb", "GPU memory per GPU (GB)", false],
  ["total_gpu_memory_gb", "Total GPU memory (GB)", false],
  ["gpu_count", "GPU count", true],
  ["vcpus", "vCPUs", false],
  ["ram_gb", "RAM (GB)", false],
] as const;
export type RangeName = (typeof RANGE_FILTERS)[number][0];
export type Bound = `min_${RangeName}` | `max_${RangeName}`;

export const SORTS = [
  ["price_per_gpu_hour", "Price per GPU-hour, low to high"],
  ["-price_per_gpu_hour", "Price per GPU-hour, high to low"],
  ["price", "Price per hour, low to high"],
  ["-price", "Price per hour, high to low"],
  ["gpu_memory", "GPU memory, low to high"],
  ["-gpu_memory", "GPU memory, high to low"],
  ["spot_price", "Spot price, low to high"],
  ["-spot_price", "Spot price, high to low"],
] as const;
export type Sort = (typeof SORTS)[number][0];
export const DEFAULT_SORT: Sort = "price_per_gpu_hour";
export const COMPLIANCE = ["eu-data-residency", "secure-cloud", "community-cloud", "dedicated-host"] as const;
export const VENDORS = ["nvidia", "amd", "intel"] as const;

export interface OffersQuery {
  lists: Partial<Record<ListFilter, string[]>>;
  bounds: Partial<Record<Bound, number>>;
  spot: boolean; // default false: no condition
  available: boolean; // default true: live offers
  q: string;
  sort: Sort;
}

export const EMPTY_QUERY: OffersQuery = { lists: {}, bounds: {}, spot: false, available: true, q: "", sort: DEFAULT_SORT };

export const BOUNDS: { bound: Bound; integer: boolean }[] = RANGE_FILTERS.flatMap(([name, , integer]) => [
  { bound: `min_${name}` as Bound, integer },
  { bound: `max_${name}` as Bound, integer },
]);

function bool(value: string | null, fallback: boolean): boolean {
  return value === "true" ? true : value === "false" ? false : fallback;
}

/** The URL's query as typed state; a value the API would refuse (not a number, a negative, an unknown sort) is
 * dropped rather than sent. */
export function parseQuery(search: URLSearchParams): OffersQuery {
  const lists: OffersQuery["lists"] = {};
  for (const name of LIST_FILTERS) {
    const values = [...new Set(search.getAll(name).map((v) => v.trim()).filter(Boolean))];
    if (values.length) lists[name] = values;
  }
  const bounds: OffersQuery["bounds"] = {};
  for (const { bound, integer } of BOUNDS) {
    const raw = search.get(bound);
    if (raw === null || raw.trim() === "") continue;
    const n = Number(raw);
    if (Number.isFinite(n) && n >= 0 && (!integer || Number.isInteger(n))) bounds[bound] = n;
  }
  const sort = search.get("sort");
  return {
    lists,
    bounds,
    spot: bool(search.get("spot"), false),
    available: bool(search.get("available"), true),
    q: (search.get("q") ?? "").trim(),
    sort: SORTS.some(([s]) => s === sort) ? (sort as Sort) : DEFAULT_SORT,
  };
}

/** The state as a query string in canonical order, defaults left out: the page's URL and GET /offers' query. */
export function toSearchParams(query: OffersQuery): URLSearchParams {
  const out = new URLSearchParams();
  if (query.q) out.set("q", query.q);
  for (const name of LIST_FILTERS) for (const v of query.lists[name] ?? []) out.append(name, v);
  for (const { bound } of BOUNDS) {
    const v = query.bounds[bound];
    if (v !== undefined) out.set(bound, String(v));
  }
  if (query.spot) out.set("spot", "true");
  if (!query.available) out.set("available", "false");
  if (query.sort !== DEFAULT_SORT) out.set("sort", query.sort);
  return out;
}

/** The live-price subscription for the same offers: GET /offers' filters in JSON's types (the WebSocket refuses a
 * string for a number); the full-text box and the sort are not filters there. */
export function liveFilters(query: OffersQuery): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of LIST_FILTERS) if (query.lists[name]?.length) out[name] = query.lists[name];
  for (const { bound } of BOUNDS) if (query.bounds[bound] !== undefined) out[bound] = query.bounds[bound];
  if (query.spot) out.spot = true;
  if (!query.available) out.available = false;
  return out;
}

export function activeFilterCount(query: OffersQuery): number {
  return (
    Object.values(query.lists).reduce((n, v) => n + (v?.length ?? 0), 0) +
    Object.keys(query.bounds).length +
    (query.spot ? 1 : 0) +
    (query.available ? 0 : 1)
  );
}
