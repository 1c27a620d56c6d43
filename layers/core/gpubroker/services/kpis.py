"""The /math KPIs: cost per token (measured or estimated from the GPU catalog), cost per GFLOP at a precision, and
an efficiency score (performance per dollar and per watt). A missing price is the cheapest live offer's."""

from __future__ import annotations

import numpy as np

from gpubroker.domain.errors import NoMarketPrice, OfferNotFound, ValidationFailed
from gpubroker.domain.gpus import GpuSpec, UnknownGpu, bundled_catalog, canonical_gpu
from gpubroker.domain.math_requests import (
    BYTES_PER_PARAM,
    CostPerGflopRequest,
    CostPerTokenRequest,
    EfficiencyByOffer,
    EfficiencyRequest,
    MeasuredCostPerToken,
)
from gpubroker.domain.math_results import (
    CostPerGflop,
    CostPerToken,
    Efficiency,
    EfficiencyReference,
    EstimatedCost,
    MeasuredCost,
)
from gpubroker.domain.types import r4
from gpubroker.services.offer_math import OfferMath, candidate_mask
from gpumath import kpi

DECODE_BANDWIDTH_EFFICIENCY = 0.7  # share of peak memory bandwidth decode kernels reach (docs/decisions.md)
PREFILL_MFU = 0.5


def gpu_spec(name: str) -> GpuSpec:
    """The catalog entry of a GPU model by id or any known spelling; an unknown model is a 422."""
    specs = bundled_catalog().by_model()
    if name in specs:
        return specs[name]
    try:
        return specs[canonical_gpu(name)]
    except (UnknownGpu, KeyError):
        raise ValidationFailed(f"unknown GPU model {name!r}", details={"known": sorted(specs)}) from None


def cheapest(offer_math: OfferMath, gpu_model: str) -> tuple[float, str] | None:
    """Cheapest available offer for a GPU model: (USD per GPU-hour, offer id)."""
    mask = candidate_mask(offer_math, gpu=[gpu_model])
    if not mask.any():
        return None
    cols = offer_math.cols
    idx = np.flatnonzero(mask)
    best = idx[np.lexsort((cols.offer_id[idx], cols.floats["price_per_gpu_hour"][idx]))[0]]
    return float(cols.floats["price_per_gpu_hour"][best]), str(cols.offer_id[best])


def _price_or_market(offer_math: OfferMath | None, gpu_model: str, given: float | None) -> tuple[float, str | None]:
    if given is not None:
        return given, None
    found = cheapest(offer_math, gpu_model) if offer_math is not None else None
    if found is None:
        raise NoMarketPrice(f"no live offer for {gpu_model}; pass a price", details={"gpu_model": gpu_model})
    return found


def _usd_per_million(price: float, tps: float) -> float:
    try:
        return float(kpi.cost_per_million_tokens(price, tps))
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None


def cost_per_token(req: CostPerTokenRequest, *, offer_math: OfferMath | None) -> CostPerToken:
    if isinstance(req, MeasuredCostPerToken):
        price, tps = req.price_per_hour, req.tokens_per_second
        usd = _usd_per_million(price, tps)
        return MeasuredCost(price_per_hour=r4(price), tokens_per_second=r4(tps), usd_per_million_tokens=r4(usd))
    spec = gpu_spec(req.gpu_model)
    bytes_pp = BYTES_PER_PARAM[req.precision]
    weights_gb = req.model_params_b * bytes_pp
    if weights_gb > spec.memory_gb:
        raise ValidationFailed(
            f"{req.model_params_b}B parameters at {req.precision} need {weights_gb:.1f} GB; "
            f"{spec.model} has {spec.memory_gb:.0f} GB (use /math/map-workload-to-gpu for multi-GPU plans)",
            details={"reason": "insufficient_memory"},
        )
    decode = float(
        kpi.decode_tokens_per_second(
            spec.memory_bandwidth_gbps, req.model_params_b, bytes_pp, efficiency=DECODE_BANDWIDTH_EFFICIENCY
        )
    )
    compute_cap = PREFILL_MFU * spec.fp16_tensor_tflops * 1e12 / (2 * req.model_params_b * 1e9)
    tps = min(decode * req.batch_size, compute_cap)
    price, offer_id = _price_or_market(offer_math, spec.model, req.price_per_hour)
    usd = _usd_per_million(price, tps)
    return EstimatedCost(
        gpu_model=spec.model,
        offer_id=offer_id,
        bottleneck="memory_bandwidth" if decode * req.batch_size <= compute_cap else "compute",
        assumptions=[
            f"decode reads all weights once per token at {DECODE_BANDWIDTH_EFFICIENCY:.0%} of peak bandwidth",
            f"throughput capped by {PREFILL_MFU:.0%} of dense FP16 tensor TFLOPS at 2 FLOP per parameter",
        ],
        price_per_hour=r4(price),
        tokens_per_second=r4(tps),
        usd_per_million_tokens=r4(usd),
    )


def _precision_tflops(spec: GpuSpec, precision: str) -> float:
    return spec.fp32_tflops if precision == "fp32" else spec.fp16_tensor_tflops


def cost_per_gflop(req: CostPerGflopRequest, *, offer_math: OfferMath | None) -> CostPerGflop:
    spec = gpu_spec(req.gpu_model)
    price, offer_id = _price_or_market(offer_math, spec.model, req.price_per_gpu_hour)
    tflops = _precision_tflops(spec, req.precision)
    return CostPerGflop(
        gpu_model=spec.model,
        precision=req.precision,
        tflops=tflops,
        utilisation=req.utilisation,
        price_per_gpu_hour=r4(price),
        offer_id=offer_id,
        usd_per_pflop_hour=r4(float(kpi.usd_per_pflop_hour(price, tflops, req.utilisation))),
        usd_per_gflop=float(f"{float(kpi.usd_per_gflop(price, tflops, req.utilisation)):.4e}"),
    )


def _references(offer_math: OfferMath | None) -> tuple[float, float]:
    """Market bests: TFLOPS per USD over live offers (or the catalog at 1 USD/h), TFLOPS per watt over the catalog."""
    specs = bundled_catalog().gpus
    per_watt = max(s.fp16_tensor_tflops / s.tdp_w for s in specs)
    if offer_math is not None and offer_math.n:
        live = offer_math.columns["tflops_per_usd"][offer_math.cols.bools["available"]]
        if live.size and live.max() > 0:
            return float(live.max()), per_watt
    return max(s.fp16_tensor_tflops for s in specs), per_watt


def efficiency(req: EfficiencyRequest, *, offer_math: OfferMath | None) -> Efficiency:
    if isinstance(req, EfficiencyByOffer):
        if offer_math is None or (i := offer_math.index_of(req.offer_id)) is None:
            raise OfferNotFound(f"no offer {req.offer_id!r}")
        cols = offer_math.cols
        spec = gpu_spec(str(cols.vocab["gpu_model"][int(cols.codes["gpu_model"][i])]))
        price = float(cols.floats["price_per_gpu_hour"][i])
    else:
        spec, price = gpu_spec(req.gpu_model), req.price_per_gpu_hour
    ref_usd, ref_watt = _references(offer_math)
    score, per_usd, per_watt = kpi.efficiency_score(
        spec.fp16_tensor_tflops,
        price,
        spec.tdp_w,
        ref_tflops_per_usd=ref_usd,
        ref_tflops_per_watt=ref_watt,
        cost_weight=req.cost_weight,
        power_weight=1.0 - req.cost_weight,
    )
    return Efficiency(
        gpu_model=spec.model,
        price_per_gpu_hour=r4(price),
        score=r4(float(score)),
        tflops_per_usd=r4(float(per_usd)),
        tflops_per_watt=r4(float(per_watt)),
        reference=EfficiencyReference(tflops_per_usd=r4(ref_usd), tflops_per_watt=r4(ref_watt)),
        formula="100 * (cost_weight * min(1, tflops_per_usd / ref) + power_weight * min(1, tflops_per_watt / ref))",
    )
