"""Cost and efficiency KPIs, vectorised over offers. IEEE 754 double throughout; no rounding here (the API
boundary rounds to 4 decimals).

Units: prices in USD per hour; throughput in tokens per second; compute in TFLOPS (1e12 FLOP/s); power in W.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from gpumath.arrays import F64

SECONDS_PER_HOUR = 3600.0
TOKENS_PER_MILLION = 1e6


def _positive(name: str, x: F64) -> None:
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"{name} must be finite and > 0")


def cost_per_million_tokens(price_per_hour: ArrayLike, tokens_per_second: ArrayLike) -> F64:
    """USD per 1M tokens = price / (tps x 3600) x 1e6.  Shapes broadcast; (n,) -> (n,)."""
    price = np.asarray(price_per_hour, dtype=np.float64)
    tps = np.asarray(tokens_per_second, dtype=np.float64)
    _positive("price_per_hour", price)
    _positive("tokens_per_second", tps)
    out: F64 = price / (tps * SECONDS_PER_HOUR) * TOKENS_PER_MILLION
    return out


def usd_per_pflop_hour(price_per_gpu_hour: ArrayLike, tflops: ArrayLike, utilisation: float = 1.0) -> F64:
    """USD for one PFLOP/s sustained for one hour (1 PFLOP-hour = 3.6e18 FLOP).

    A GPU delivering ``tflops x utilisation`` TFLOPS supplies ``tflops x utilisation / 1000`` PFLOP-hours per
    GPU-hour, so the cost is ``price_per_gpu_hour x 1000 / (tflops x utilisation)``.
    """
    price = np.asarray(price_per_gpu_hour, dtype=np.float64)
    peak = np.asarray(tflops, dtype=np.float64)
    _positive("price_per_gpu_hour", price)
    _positive("tflops", peak)
    if not 0 < utilisation <= 1:
        raise ValueError("utilisation must be in (0, 1]")
    out: F64 = price * 1000.0 / (peak * utilisation)
    return out


def usd_per_gflop(price_per_gpu_hour: ArrayLike, tflops: ArrayLike, utilisation: float = 1.0) -> F64:
    """USD per GFLOP (1e9 FLOP) = price / (tflops x utilisation x 1e3 GFLOP/s x 3600 s)."""
    return usd_per_pflop_hour(price_per_gpu_hour, tflops, utilisation) / 3.6e9


# Efficiency score: 100 x (w_cost x min(1, (TFLOPS/$) / ref_cost) + w_power x min(1, (TFLOPS/W) / ref_power)).
# The references are the best values of the market the score is computed against (the live catalog), so the
# best offer on either axis scores full marks on that axis; the result is always in [0, 100].
DEFAULT_COST_WEIGHT = 0.6
DEFAULT_POWER_WEIGHT = 0.4


def efficiency_score(
    tflops: ArrayLike,
    price_per_gpu_hour: ArrayLike,
    tdp_w: ArrayLike,
    *,
    ref_tflops_per_usd: float,
    ref_tflops_per_watt: float,
    cost_weight: float = DEFAULT_COST_WEIGHT,
    power_weight: float = DEFAULT_POWER_WEIGHT,
) -> tuple[F64, F64, F64]:
    """(score in [0, 100], TFLOPS per USD-hour, TFLOPS per watt), each (n,).

    ``cost_weight + power_weight`` must be 1; references must be > 0 (the market's best values).
    """
    peak = np.asarray(tflops, dtype=np.float64)
    price = np.asarray(price_per_gpu_hour, dtype=np.float64)
    watts = np.asarray(tdp_w, dtype=np.float64)
    for name, arr in (("tflops", peak), ("price_per_gpu_hour", price), ("tdp_w", watts)):
        _positive(name, arr)
    if ref_tflops_per_usd <= 0 or ref_tflops_per_watt <= 0:
        raise ValueError("reference values must be > 0")
    if cost_weight < 0 or power_weight < 0 or abs(cost_weight + power_weight - 1.0) > 1e-9:
        raise ValueError("cost_weight and power_weight must be >= 0 and sum to 1")
    per_usd = peak / price
    per_watt = peak / watts
    score = 100.0 * (
        cost_weight * np.minimum(1.0, per_usd / ref_tflops_per_usd)
        + power_weight * np.minimum(1.0, per_watt / ref_tflops_per_watt)
    )
    return score, per_usd, per_watt


def decode_tokens_per_second(
    bandwidth_gbps: ArrayLike, params_b: float, bytes_per_param: float, *, efficiency: float = 0.7
) -> F64:
    """Single-stream decode throughput bound by memory bandwidth: every token reads all weights once.

    tokens/s = efficiency x bandwidth (GB/s) / (params_b x 1e9 x bytes_per_param / 1e9 GB).
    ``efficiency`` (0.7 default) is the share of peak bandwidth real kernels reach (vLLM/TensorRT-LLM decode
    typically 60-80 % of peak; see docs/decisions.md).
    """
    bw = np.asarray(bandwidth_gbps, dtype=np.float64)
    _positive("bandwidth_gbps", bw)
    if params_b <= 0 or bytes_per_param <= 0 or not 0 < efficiency <= 1:
        raise ValueError("params_b, bytes_per_param must be > 0 and efficiency in (0, 1]")
    out: F64 = efficiency * bw / (params_b * bytes_per_param)
    return out
