"""The /math KPIs: cost per token (measured or estimated from the GPU catalog), cost per GFLOP at a precision, and
an efficiency score (performance per dollar and per watt) at a precision. A missing price is the cheapest live
offer's. A precision the GPU lacks is refused as the workload routes refuse it (``domain.precision``: 422
``precision_unsupported``); fp8 runs at the FP8 tensor rate. Figures keep four significant figures
(``domain.types.r4``): a real cost never reads 0.0.

Cost per token by offer (``CostPerTokenByOffer``: the web app's offer page) takes the offer's GPU and its price, picks
the widest weight format that fits when none is asked for, and answers ``not_applicable`` with the reason where the
figure does not exist for that offer (the model fits no format on one GPU, a format the GPU lacks): a fact about the
offer, not a bad request, so not a 422."""

from __future__ import annotations

from typing import get_args, overload

import numpy as np

from gpubroker.domain.errors import NoMarketPrice, OfferNotFound, ValidationFailed
from gpubroker.domain.gpus import GpuSpec, UnknownGpu, bundled_catalog, canonical_gpu
from gpubroker.domain.math_requests import (
    CostPerGflopRequest,
    CostPerTokenByOffer,
    CostPerTokenRequest,
    EfficiencyByOffer,
    EfficiencyRequest,
    EstimatedCostPerToken,
    MeasuredCostPerToken,
)
from gpubroker.domain.math_results import (
    CostPerGflop,
    CostPerToken,
    Efficiency,
    EfficiencyReference,
    EstimatedCost,
    MeasuredCost,
    NotApplicableCost,
)
from gpubroker.domain.precision import BYTES_PER_PARAM, Precision, compute_path, peak_tflops, precision_supported
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


# the weight formats a by-offer cost per token tries when none is asked for, widest first (every GPU runs them)
WEIGHT_FORMATS: tuple[Precision, ...] = ("fp16", "int8", "int4")


@overload
def cost_per_token(
    req: MeasuredCostPerToken | EstimatedCostPerToken, *, offer_math: OfferMath | None
) -> MeasuredCost | EstimatedCost: ...
@overload
def cost_per_token(req: CostPerTokenByOffer, *, offer_math: OfferMath | None) -> EstimatedCost | NotApplicableCost: ...
@overload
def cost_per_token(req: CostPerTokenRequest, *, offer_math: OfferMath | None) -> CostPerToken: ...
def cost_per_token(req: CostPerTokenRequest, *, offer_math: OfferMath | None) -> CostPerToken:
    """By GPU model (measured or estimated; refusals are 422s) or by offer (``not_applicable`` where the figure
    does not exist for it)."""
    if isinstance(req, MeasuredCostPerToken):
        price, tps = req.price_per_hour, req.tokens_per_second
        usd = _usd_per_million(price, tps)
        return MeasuredCost(price_per_hour=r4(price), tokens_per_second=r4(tps), usd_per_million_tokens=r4(usd))
    if isinstance(req, CostPerTokenByOffer):
        return _offer_cost_per_token(req, offer_math)
    spec = gpu_spec(req.gpu_model)
    peak_tflops(spec, req.precision)  # refuses a format the GPU lacks
    if (need := _weights_gb(req.model_params_b, req.precision)) > spec.memory_gb:
        raise ValidationFailed(
            f"{req.model_params_b}B parameters at {req.precision} need {need:.1f} GB; "
            f"{spec.model} has {spec.memory_gb:.0f} GB (use /math/map-workload-to-gpu for multi-GPU plans)",
            details={"reason": "insufficient_memory"},
        )
    price, offer_id = _price_or_market(offer_math, spec.model, req.price_per_hour)
    return _estimate(spec, req.model_params_b, req.precision, req.batch_size, price=price, offer_id=offer_id)


def _weights_gb(params_b: float, precision: Precision) -> float:
    return params_b * BYTES_PER_PARAM[precision]


def offer_gpu(offer_math: OfferMath | None, offer_id: str) -> tuple[GpuSpec, float]:
    """An offer's GPU (its catalog entry) and price per GPU-hour; an offer not in the snapshot is a 404."""
    if offer_math is None or (i := offer_math.index_of(offer_id)) is None:
        raise OfferNotFound(f"no offer {offer_id!r}")
    cols = offer_math.cols
    spec = gpu_spec(str(cols.vocab["gpu_model"][int(cols.codes["gpu_model"][i])]))
    return spec, float(cols.floats["price_per_gpu_hour"][i])


def _offer_cost_per_token(req: CostPerTokenByOffer, offer_math: OfferMath | None) -> EstimatedCost | NotApplicableCost:
    spec, price = offer_gpu(offer_math, req.offer_id)
    tried = (req.precision,) if req.precision is not None else WEIGHT_FORMATS
    if req.precision is not None and not precision_supported(spec.architecture, req.precision):
        return NotApplicableCost(
            gpu_model=spec.model,
            offer_id=req.offer_id,
            reason="precision_unsupported",
            explanation=f"{spec.model} ({spec.architecture}) has no native {req.precision}; it runs "
            f"{', '.join(p for p in get_args(Precision) if precision_supported(spec.architecture, p))}",
            price_per_hour=r4(price),
        )
    fits = [p for p in tried if _weights_gb(req.model_params_b, p) <= spec.memory_gb]
    if not fits:
        smallest = tried[-1]
        return NotApplicableCost(
            gpu_model=spec.model,
            offer_id=req.offer_id,
            reason="insufficient_memory",
            explanation=f"a {req.model_params_b:g}B-parameter model needs "
            f"{_weights_gb(req.model_params_b, smallest):.1f} GB for its weights at {smallest}; one {spec.model} has "
            f"{spec.memory_gb:g} GB (a multi-GPU plan: /math/map-workload-to-gpu)",
            price_per_hour=r4(price),
        )
    return _estimate(spec, req.model_params_b, fits[0], req.batch_size, price=price, offer_id=req.offer_id)


def _estimate(
    spec: GpuSpec, params_b: float, precision: Precision, batch_size: int, *, price: float, offer_id: str | None
) -> EstimatedCost:
    peak = peak_tflops(spec, precision)  # refuses a format the GPU lacks
    decode = float(
        kpi.decode_tokens_per_second(
            spec.memory_bandwidth_gbps, params_b, BYTES_PER_PARAM[precision], efficiency=DECODE_BANDWIDTH_EFFICIENCY
        )
    )
    compute_cap = PREFILL_MFU * peak * 1e12 / (2 * params_b * 1e9)
    tps = min(decode * batch_size, compute_cap)
    usd = _usd_per_million(price, tps)
    return EstimatedCost(
        gpu_model=spec.model,
        offer_id=offer_id,
        precision=precision,
        bottleneck="memory_bandwidth" if decode * batch_size <= compute_cap else "compute",
        assumptions=[
            f"decode reads all weights once per token at {DECODE_BANDWIDTH_EFFICIENCY:.0%} of peak bandwidth",
            f"throughput capped by {PREFILL_MFU:.0%} of the {_peak_name(precision)} ({peak:g} TFLOPS) at 2 FLOP "
            "per parameter",
        ],
        price_per_hour=r4(price),
        tokens_per_second=r4(tps),
        usd_per_million_tokens=r4(usd),
    )


def _peak_name(precision: Precision) -> str:
    return {"fp32": "FP32 peak", "fp8": "dense FP8 tensor peak"}.get(
        compute_path(precision), "dense FP16/BF16 tensor peak"
    )


def cost_per_gflop(req: CostPerGflopRequest, *, offer_math: OfferMath | None) -> CostPerGflop:
    spec = gpu_spec(req.gpu_model)
    tflops = peak_tflops(spec, req.precision)  # refuses a format the GPU lacks
    price, offer_id = _price_or_market(offer_math, spec.model, req.price_per_gpu_hour)
    return CostPerGflop(
        gpu_model=spec.model,
        precision=req.precision,
        tflops=tflops,
        utilisation=req.utilisation,
        price_per_gpu_hour=r4(price),
        offer_id=offer_id,
        usd_per_pflop_hour=r4(float(kpi.usd_per_pflop_hour(price, tflops, req.utilisation))),
        usd_per_gflop=r4(float(kpi.usd_per_gflop(price, tflops, req.utilisation))),
    )


def _peak_or_zero(spec: GpuSpec, precision: Precision) -> float:
    return peak_tflops(spec, precision) if precision_supported(spec.architecture, precision) else 0.0


def _references(offer_math: OfferMath | None, precision: Precision) -> tuple[float, float]:
    """Market bests at ``precision`` (GPUs without the format left out): TFLOPS per USD over live offers (or the
    catalog at 1 USD/h), TFLOPS per watt over the catalog."""
    specs = bundled_catalog().gpus
    per_watt = max(_peak_or_zero(s, precision) / s.tdp_w for s in specs)
    if offer_math is not None and offer_math.n:
        cols = offer_math.cols
        by_model = bundled_catalog().by_model()
        lut = np.array(
            [_peak_or_zero(by_model[m], precision) if m in by_model else 0.0 for m in cols.vocab["gpu_model"]]
        )
        per_usd = lut[cols.codes["gpu_model"]] / cols.floats["price_per_gpu_hour"]
        live = per_usd[cols.bools["available"] & np.isfinite(per_usd)]
        if live.size and live.max() > 0:
            return float(live.max()), per_watt
    return max(_peak_or_zero(s, precision) for s in specs), per_watt


def efficiency(req: EfficiencyRequest, *, offer_math: OfferMath | None) -> Efficiency:
    if isinstance(req, EfficiencyByOffer):
        spec, price = offer_gpu(offer_math, req.offer_id)
    else:
        spec, price = gpu_spec(req.gpu_model), req.price_per_gpu_hour
    tflops = peak_tflops(spec, req.precision)  # refuses a format the GPU lacks
    ref_usd, ref_watt = _references(offer_math, req.precision)
    score, per_usd, per_watt = kpi.efficiency_score(
        tflops,
        price,
        spec.tdp_w,
        ref_tflops_per_usd=ref_usd,
        ref_tflops_per_watt=ref_watt,
        cost_weight=req.cost_weight,
        power_weight=1.0 - req.cost_weight,
    )
    return Efficiency(
        gpu_model=spec.model,
        precision=req.precision,
        tflops=tflops,
        price_per_gpu_hour=r4(price),
        score=r4(float(score)),
        tflops_per_usd=r4(float(per_usd)),
        tflops_per_watt=r4(float(per_watt)),
        reference=EfficiencyReference(tflops_per_usd=r4(ref_usd), tflops_per_watt=r4(ref_watt)),
        formula="100 * (cost_weight * min(1, tflops_per_usd / ref) + power_weight * min(1, tflops_per_watt / ref))",
    )
