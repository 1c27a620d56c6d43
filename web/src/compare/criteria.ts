// The Compare page's criteria and their per-criterion explanation. The ranking itself is the API's (POST
// /math/topsis on the offers' matrix); here each offer's place on one criterion is shown as where it sits between
// the worst and the best of the offers compared (1: the best, 0: the worst), the direction TOPSIS uses.
import type { Offer } from "../api/types";

export interface Criterion {
  name: string;
  label: string;
  type: "benefit" | "cost";
  value: (o: Offer) => number | null;
  unit: "usd" | "gb" | "count";
}

export const CRITERIA: Criterion[] = [
  { name: "price_per_gpu_hour", label: "Price per GPU-hour", type: "cost", value: (o) => o.price_per_gpu_hour, unit: "usd" },
  { name: "price_per_hour", label: "Price per hour", type: "cost", value: (o) => o.price_per_hour, unit: "usd" },
  { name: "gpu_memory_gb", label: "Memory per GPU", type: "benefit", value: (o) => o.gpu_memory_gb, unit: "gb" },
  { name: "total_gpu_memory_gb", label: "Total GPU memory", type: "benefit", value: (o) => o.gpu_memory_gb * o.gpu_count, unit: "gb" },
  { name: "vcpus", label: "vCPUs", type: "benefit", value: (o) => o.vcpus, unit: "count" },
  { name: "ram_gb", label: "RAM", type: "benefit", value: (o) => o.ram_gb, unit: "gb" },
];

/** The criteria every offer has a value for (a criterion one offer lacks cannot rank them). */
export function usableCriteria(offers: Offer[]): Criterion[] {
  return CRITERIA.filter((c) => offers.every((o) => {
    const v = c.value(o);
    return v !== null && Number.isFinite(v);
  }));
}

/** POST /math/topsis's matrix body: offers x criteria, one weight and direction per criterion. */
export function topsisBody(offers: Offer[], criteria: Criterion[], weights: Record<string, number>) {
  return {
    matrix: offers.map((o) => criteria.map((c) => c.value(o) as number)),
    weights: criteria.map((c) => weights[c.name] ?? 1),
    types: criteria.map((c) => c.type),
  };
}

/** Per criterion, each offer's place between the worst (0) and the best (1) of the offers; all equal: 1 each. */
export function placeOnCriterion(values: number[], type: "benefit" | "cost"): number[] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  if (hi === lo) return values.map(() => 1);
  return values.map((v) => (type === "benefit" ? (v - lo) / (hi - lo) : (hi - v) / (hi - lo)));
}

/** The offer ids a Compare URL names (?id=a&id=b or ?ids=a,b), 2 to 4 distinct, in order. */
export function idsFromUrl(search: URLSearchParams): string[] {
  const ids = [...search.getAll("id"), ...(search.get("ids") ?? "").split(",")].map((s) => s.trim()).filter(Boolean);
  return [...new Set(ids)].slice(0, 4);
}
