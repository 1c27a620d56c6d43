// The offer page's KPI answers (POST /math/cost-per-token by offer, /math/cost-per-gflop, /math/efficiency-score)
// and how their figures read.

export interface EstimatedCostPerToken {
  method: "estimated";
  gpu_model: string;
  precision: string;
  tokens_per_second: number;
  usd_per_million_tokens: number;
  bottleneck: "memory_bandwidth" | "compute";
  assumptions: string[];
}

export interface NotApplicableCostPerToken {
  method: "not_applicable";
  gpu_model: string;
  reason: "insufficient_memory" | "precision_unsupported";
  explanation: string;
}

export type CostPerToken = EstimatedCostPerToken | NotApplicableCostPerToken;

export interface CostPerGflop { precision: string; tflops: number; usd_per_gflop: number; usd_per_pflop_hour: number }

export interface Efficiency { score: number; tflops: number; tflops_per_usd: number; tflops_per_watt: number; precision: string }

/** The model sizes the offer page offers for its cost per token (billions of parameters). */
export const MODEL_SIZES_B = [1, 8, 13, 34, 70] as const;
export const DEFAULT_MODEL_B = 8;

const SUPERSCRIPT: Record<string, string> = { "-": "⁻", "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹" };

/** A tiny dollar amount in scientific notation, two significant digits: 2.78e-7 -> "$2.8 × 10⁻⁷"; amounts of a cent
 * and more as plain dollars. */
export function fmtTinyUsd(x: number): string {
  if (!Number.isFinite(x)) return "—";
  if (x === 0) return "$0";
  if (Math.abs(x) >= 0.01) return `$${x.toFixed(2)}`;
  const [mantissa, exp] = x.toExponential(1).split("e");
  const power = String(Number(exp)).split("").map((c) => SUPERSCRIPT[c] ?? c).join("");
  return `$${mantissa} × 10${power}`;
}

/** "$0.85 per 1M tokens" with 2-4 significant digits as the API rounds them; cheap figures keep their digits. */
export function fmtPerMillion(usd: number): string {
  if (usd >= 100) return `$${Math.round(usd).toLocaleString("en-US")}`;
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  return `$${Number(usd.toPrecision(2))}`;
}

/** The line under a cost per token: what it assumes, in words. */
export function costPerTokenBasis(c: CostPerToken, paramsB: number): string {
  if (c.method === "not_applicable") return c.explanation;
  const bound = c.bottleneck === "compute" ? "compute-bound" : "memory-bandwidth-bound";
  return `${paramsB}B model, ${c.precision.toUpperCase()} weights, one stream: ${Math.round(c.tokens_per_second).toLocaleString("en-US")} tokens/s (${bound}, estimated from the GPU's specs)`;
}
