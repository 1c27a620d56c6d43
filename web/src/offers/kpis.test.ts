import { expect, it } from "vitest";
import { costPerTokenBasis, fmtPerMillion, fmtTinyUsd } from "./kpis";

it("writes a cost per GFLOP in scientific notation and cents as cents", () => {
  expect(fmtTinyUsd(2.78e-7)).toBe("$2.8 × 10⁻⁷");
  expect(fmtTinyUsd(1.04e-10)).toBe("$1.0 × 10⁻¹⁰");
  expect(fmtTinyUsd(0.0042)).toBe("$4.2 × 10⁻³");
  expect(fmtTinyUsd(0.25)).toBe("$0.25");
  expect(fmtTinyUsd(0)).toBe("$0");
  expect(fmtTinyUsd(Number.NaN)).toBe("—");
});

it("keeps a cost per 1M tokens readable at any size", () => {
  expect(fmtPerMillion(0.8488)).toBe("$0.85");
  expect(fmtPerMillion(0.0123)).toBe("$0.012");
  expect(fmtPerMillion(7.0547)).toBe("$7.05");
  expect(fmtPerMillion(1234.5)).toBe("$1,235");
});

it("says what an estimate assumes, and why a figure does not exist", () => {
  expect(costPerTokenBasis({ method: "estimated", gpu_model: "V100-16GB-Any", precision: "fp16", tokens_per_second: 45.04,
    usd_per_million_tokens: 0.85, bottleneck: "memory_bandwidth", assumptions: [] }, 8))
    .toBe("8B model, FP16 weights, one stream: 45 tokens/s (memory-bandwidth-bound, estimated from the GPU's specs)");
  expect(costPerTokenBasis({ method: "not_applicable", gpu_model: "A16", reason: "insufficient_memory",
    explanation: "a 70B-parameter model needs 37.2 GB" }, 70)).toBe("a 70B-parameter model needs 37.2 GB");
});
