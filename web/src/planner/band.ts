// A plan line's time and cost with the estimator's uncertainty band (issue 14: est_hours_low/est_hours_high are
// est_hours x requirement.uncertainty's time band; the cost scales with the time: same GPUs at the same price).

export interface Banded { est_hours: number | null; est_hours_low?: number | null; est_hours_high?: number | null; est_cost_usd?: number | null }

const grouped = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const usd = (digits: number) => new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: digits, maximumFractionDigits: digits });
const usd0 = usd(0);
const usd2 = usd(2);

/** Hours as people read them: two significant digits under 1 h (0.05, 0.5), one decimal under 10 (3.2), whole and
 * grouped above (1,234). */
export function fmtHours(h: number): string {
  if (h < 1) return String(Number(h.toPrecision(2)));
  if (h < 9.95) return oneDecimal.format(h); // 9.96 would read "10.0"
  return grouped.format(h);
}

/** Dollars: cents under $1,000, whole dollars above (a band of $12,345.67–$15,678.90 reads as noise). */
export function fmtCost(usdAmount: number): string {
  return Math.abs(usdAmount) >= 1000 ? usd0.format(usdAmount) : usd2.format(usdAmount);
}

/** "3.2 h (2.4–3.6)", "3.2 h" without a band, "—" without a time. */
export function hoursWithBand(p: Banded): string {
  if (p.est_hours === null) return "—";
  const lo = p.est_hours_low, hi = p.est_hours_high;
  const band = lo != null && hi != null ? ` (${fmtHours(lo)}–${fmtHours(hi)})` : "";
  return `${fmtHours(p.est_hours)} h${band}`;
}

/** The cost's range over the same band: cost x low/est and cost x high/est; null without a cost or a band. */
export function costRange(p: Banded): [number, number] | null {
  const cost = p.est_cost_usd, h = p.est_hours, lo = p.est_hours_low, hi = p.est_hours_high;
  if (cost == null || h == null || lo == null || hi == null || !(h > 0)) return null;
  return [cost * (lo / h), cost * (hi / h)];
}

/** "$41.20 ($30.90–$46.35)", "$41.20" without a band, "—" without a cost. */
export function costWithBand(p: Banded): string {
  if (p.est_cost_usd == null) return "—";
  const range = costRange(p);
  return range ? `${fmtCost(p.est_cost_usd)} (${fmtCost(range[0])}–${fmtCost(range[1])})` : fmtCost(p.est_cost_usd);
}
