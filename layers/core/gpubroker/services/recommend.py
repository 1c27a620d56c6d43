"""The /math use cases: KPIs, TOPSIS (matrix and live offers), content similarity, collaborative scores and the
ensemble recommender with its cold-start path. Vectorised over offers through gpumath; no Python loop over
offers except to render the few returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gpubroker.domain.errors import NoMarketPrice, OfferNotFound, ValidationFailed
from gpubroker.domain.gpus import GpuSpec, UnknownGpu, bundled_catalog, canonical_gpu
from gpubroker.domain.math_requests import (
    BYTES_PER_PARAM,
    CollaborativeRequest,
    CostPerGflopRequest,
    CostPerTokenRequest,
    EfficiencyByOffer,
    EfficiencyRequest,
    EnsembleRequest,
    MeasuredCostPerToken,
    OfferFilters,
    PairwiseSimilarity,
    SimilarityRequest,
    TopsisMatrix,
    TopsisRequest,
    WeightedCriterion,
)
from gpubroker.services.collab import CfModel
from gpubroker.services.offer_math import CRITERIA, OfferMath, candidate_mask, offer_summary
from gpumath import kpi
from gpumath.ensemble import criterion_strengths, ensemble, popularity
from gpumath.similarity import cosine_matrix, cosine_to, top_k
from gpumath.topsis import topsis

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
DECODE_BANDWIDTH_EFFICIENCY = 0.7  # share of peak memory bandwidth decode kernels reach (docs/decisions.md)
PREFILL_MFU = 0.5


def r4(x: float) -> float:
    """Rounding happens here, at the API boundary, and nowhere else."""
    return round(float(x), 4)


def _spec(name: str) -> GpuSpec:
    specs = bundled_catalog().by_model()
    if name in specs:
        return specs[name]
    try:
        return specs[canonical_gpu(name)]
    except (UnknownGpu, KeyError):
        raise ValidationFailed(f"unknown GPU model {name!r}", details={"known": sorted(specs)}) from None


def cheapest(om: OfferMath, gpu_model: str) -> tuple[float, str] | None:
    """Cheapest available offer for a GPU model: (USD per GPU-hour, offer id)."""
    mask = candidate_mask(om, gpu=[gpu_model])
    if not mask.any():
        return None
    idx = np.flatnonzero(mask)
    best = idx[np.lexsort((om.cols.offer_id[idx], om.cols.floats["price_per_gpu_hour"][idx]))[0]]
    return float(om.cols.floats["price_per_gpu_hour"][best]), str(om.cols.offer_id[best])


def _price_or_market(om: OfferMath | None, gpu_model: str, given: float | None) -> tuple[float, str | None]:
    if given is not None:
        return given, None
    found = cheapest(om, gpu_model) if om is not None else None
    if found is None:
        raise NoMarketPrice(f"no live offer for {gpu_model}; pass a price", details={"gpu_model": gpu_model})
    return found


# ---- KPIs ----------------------------------------------------------------------------------------------------


def cost_per_token(req: CostPerTokenRequest, *, om: OfferMath | None) -> dict[str, Any]:
    out: dict[str, Any] = {"method": "measured"}
    if isinstance(req, MeasuredCostPerToken):
        price, tps = req.price_per_hour, req.tokens_per_second
    else:
        spec = _spec(req.gpu_model)
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
        price, offer_id = _price_or_market(om, spec.model, req.price_per_hour)
        out = {
            "method": "estimated",
            "gpu_model": spec.model,
            "offer_id": offer_id,
            "bottleneck": "memory_bandwidth" if decode * req.batch_size <= compute_cap else "compute",
            "assumptions": [
                f"decode reads all weights once per token at {DECODE_BANDWIDTH_EFFICIENCY:.0%} of peak bandwidth",
                f"throughput capped by {PREFILL_MFU:.0%} of dense FP16 tensor TFLOPS at 2 FLOP per parameter",
            ],
        }
    try:
        usd = float(kpi.cost_per_million_tokens(price, tps))
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    out.update({"price_per_hour": r4(price), "tokens_per_second": r4(tps), "usd_per_million_tokens": r4(usd)})
    return out


def _precision_tflops(spec: GpuSpec, precision: str) -> float:
    return spec.fp32_tflops if precision == "fp32" else spec.fp16_tensor_tflops


def cost_per_gflop(req: CostPerGflopRequest, *, om: OfferMath | None) -> dict[str, Any]:
    spec = _spec(req.gpu_model)
    price, offer_id = _price_or_market(om, spec.model, req.price_per_gpu_hour)
    tflops = _precision_tflops(spec, req.precision)
    return {
        "gpu_model": spec.model,
        "precision": req.precision,
        "tflops": tflops,
        "utilisation": req.utilisation,
        "price_per_gpu_hour": r4(price),
        "offer_id": offer_id,
        "usd_per_pflop_hour": r4(float(kpi.usd_per_pflop_hour(price, tflops, req.utilisation))),
        "usd_per_gflop": float(f"{float(kpi.usd_per_gflop(price, tflops, req.utilisation)):.4e}"),
    }


def _references(om: OfferMath | None) -> tuple[float, float]:
    """Market bests: TFLOPS per USD over live offers (or the catalog at 1 USD/h), TFLOPS per watt over the catalog."""
    specs = bundled_catalog().gpus
    per_watt = max(s.fp16_tensor_tflops / s.tdp_w for s in specs)
    if om is not None and om.n:
        live = om.columns["tflops_per_usd"][om.cols.bools["available"]]
        if live.size and live.max() > 0:
            return float(live.max()), per_watt
    return max(s.fp16_tensor_tflops for s in specs), per_watt


def efficiency(req: EfficiencyRequest, *, om: OfferMath | None) -> dict[str, Any]:
    if isinstance(req, EfficiencyByOffer):
        if om is None or (i := om.index_of(req.offer_id)) is None:
            raise OfferNotFound(f"no offer {req.offer_id!r}")
        spec = _spec(str(om.cols.vocab["gpu_model"][int(om.cols.codes["gpu_model"][i])]))
        price = float(om.cols.floats["price_per_gpu_hour"][i])
    else:
        spec, price = _spec(req.gpu_model), req.price_per_gpu_hour
    ref_usd, ref_watt = _references(om)
    score, per_usd, per_watt = kpi.efficiency_score(
        spec.fp16_tensor_tflops,
        price,
        spec.tdp_w,
        ref_tflops_per_usd=ref_usd,
        ref_tflops_per_watt=ref_watt,
        cost_weight=req.cost_weight,
        power_weight=1.0 - req.cost_weight,
    )
    return {
        "gpu_model": spec.model,
        "price_per_gpu_hour": r4(price),
        "score": r4(float(score)),
        "tflops_per_usd": r4(float(per_usd)),
        "tflops_per_watt": r4(float(per_watt)),
        "reference": {"tflops_per_usd": r4(ref_usd), "tflops_per_watt": r4(ref_watt)},
        "formula": "100 * (cost_weight * min(1, tflops_per_usd / ref) + power_weight * min(1, tflops_per_watt / ref))",
    }


# ---- TOPSIS --------------------------------------------------------------------------------------------------


def _checked_criteria(criteria: Sequence[WeightedCriterion]) -> tuple[list[str], F64]:
    names = [c.name for c in criteria]
    if len(set(names)) != len(names):
        raise ValidationFailed("each criterion may appear once")
    unknown = [n for n in names if n not in CRITERIA]
    if unknown:
        raise ValidationFailed(f"unknown criterion {unknown[0]!r}", details={"known": sorted(CRITERIA)})
    return names, np.array([c.weight for c in criteria], dtype=np.float64)


def _candidates(om: OfferMath, f: OfferFilters) -> I64:
    gpus = [_spec(g).model for g in f.gpu]
    mask = candidate_mask(
        om,
        gpu=gpus,
        provider=f.provider,
        region=f.region,
        max_price_per_gpu_hour=f.max_price_per_gpu_hour,
        min_gpu_memory_gb=f.min_gpu_memory_gb,
    )
    return np.flatnonzero(mask).astype(np.int64)


def _ranked(scores: F64, idx: I64, om: OfferMath) -> I64:
    """Candidates ordered by score descending, ties by offer id (deterministic)."""
    order = np.lexsort((om.cols.offer_id[idx], -scores))
    out: I64 = order.astype(np.int64)
    return out


def _top_criteria(strengths: F64, names: Sequence[str], j: int, n: int = 3) -> list[str]:
    col = strengths[:, j]
    order = np.argsort(-col, kind="stable")
    return [names[k] for k in order[:n] if col[k] > 0]


def topsis_rank(req: TopsisRequest, *, om: OfferMath | None) -> dict[str, Any]:
    if isinstance(req, TopsisMatrix):
        x = np.asarray(req.matrix, dtype=np.float64).T.copy()  # alternatives x criteria -> criteria-major
        benefit = np.array([t == "benefit" for t in req.types], dtype=np.bool_)
        try:
            scores = topsis(x, np.asarray(req.weights, dtype=np.float64), benefit)
        except ValueError as exc:
            raise ValidationFailed(str(exc)) from None
        order = np.argsort(-scores, kind="stable")
        return {"mode": "matrix", "scores": [r4(s) for s in scores], "ranking": [int(i) for i in order]}
    if om is None:
        raise ValidationFailed("no offer snapshot available")
    names, weights = _checked_criteria(req.criteria)
    idx = _candidates(om, req.filters)
    if idx.size == 0:
        return {"mode": "offers", "criteria": names, "count": 0, "items": []}
    x, benefit = om.criteria_matrix(names, idx)
    scores = topsis(x, weights, benefit)
    order = _ranked(scores, idx, om)[: req.limit]
    strengths = criterion_strengths(x, weights, benefit)
    items = [
        {
            **offer_summary(om, int(idx[j])),
            "score": r4(scores[j]),
            "top_criteria": _top_criteria(strengths, names, int(j)),
        }
        for j in order
    ]
    return {"mode": "offers", "criteria": names, "count": int(idx.size), "items": items}


# ---- content similarity --------------------------------------------------------------------------------------


def _indices(om: OfferMath, offer_ids: Sequence[str]) -> I64:
    out = []
    for oid in offer_ids:
        i = om.index_of(oid)
        if i is None:
            raise OfferNotFound(f"no offer {oid!r}")
        out.append(i)
    return np.array(out, dtype=np.int64)


def similarity(req: SimilarityRequest, *, om: OfferMath) -> dict[str, Any]:
    if isinstance(req, PairwiseSimilarity):
        idx = _indices(om, req.offer_ids)
        m = cosine_matrix(om.features, idx)
        return {"offer_ids": list(req.offer_ids), "matrix": [[r4(v) for v in row] for row in m]}
    return similar_offers(req.offer_id, req.top, om=om)


def similar_offers(offer_id: str, limit: int, *, om: OfferMath) -> dict[str, Any]:
    i = om.index_of(offer_id)
    if i is None:
        raise OfferNotFound(f"no offer {offer_id!r}")
    sims = cosine_to(om.features, i)
    best = top_k(sims, limit, exclude=np.array([i], dtype=np.int64), mask=om.cols.bools["available"])
    return {"offer_id": offer_id, "items": [{**offer_summary(om, int(j)), "similarity": r4(sims[j])} for j in best]}


# ---- collaborative + ensemble --------------------------------------------------------------------------------


def collaborative(req: CollaborativeRequest, *, user_id: str, om: OfferMath, cf: CfModel | None) -> dict[str, Any]:
    """``user_id``: whom the request is for (the handler resolves ``req.user_id`` against the caller)."""
    idx = np.flatnonzero(om.cols.bools["available"]).astype(np.int64)
    if req.offer_ids:
        idx = _indices(om, req.offer_ids)
    ids = om.cols.offer_id[idx]
    scores = cf.scores_for(user_id, ids) if cf is not None else None
    known = scores is not None
    if scores is None:
        scores = popularity(cf.popularity_for(ids)) if cf is not None else np.full(idx.shape[0], 0.5)
    order = _ranked(scores, idx, om)[: req.top]
    return {
        "user_id": user_id,
        "known_user": known,
        "path": "collaborative" if known else "cold_start_popularity",
        "model": cf.meta if cf is not None else None,
        "items": [{**offer_summary(om, int(idx[j])), "score": r4(scores[j])} for j in order],
    }


def ensemble_recommend(
    req: EnsembleRequest,
    *,
    om: OfferMath,
    cf: CfModel | None,
    history: Mapping[str, Mapping[str, int]] | None,
) -> dict[str, Any]:
    """0.4 TOPSIS + 0.3 collaborative + 0.3 content by default, each rescaled to [0, 1] over the candidates.

    Cold start (no user, or a user the model and the history do not know): popularity replaces the
    collaborative component, and content similarity is measured against the most popular offers instead of
    the user's own history. The response names the path and why.
    """
    names, cweights = _checked_criteria(req.criteria)
    idx = _candidates(om, req.filters)
    w = req.weights.model_dump()
    if idx.size == 0:
        return {"path": "empty", "reason": "no offer matches the filters", "weights": w, "count": 0, "items": []}
    x, benefit = om.criteria_matrix(names, idx)
    t_scores = topsis(x, cweights, benefit)
    ids = om.cols.offer_id[idx]
    cf_scores = cf.scores_for(req.user_id, ids) if (cf is not None and req.user_id) else None
    liked = [oid for oid, c in (history or {}).items() if c] if req.user_id else []
    liked_idx = np.array([i for i in (om.index_of(o) for o in liked) if i is not None], dtype=np.int64)
    pop = popularity(cf.popularity_for(ids)) if cf is not None else np.full(idx.shape[0], 0.5)
    if cf_scores is not None or liked_idx.size:
        path = "personalised"
        reason = "collaborative factors and the user's own history"
        collab = cf_scores if cf_scores is not None else pop
        anchors = liked_idx if liked_idx.size else idx[np.argsort(-pop, kind="stable")[:5]]
    else:
        path = "cold_start"
        reason = "anonymous user" if not req.user_id else "no interactions recorded for this user yet"
        reason += ": popularity replaces collaborative filtering; content is similarity to the most popular offers"
        collab = pop
        anchors = idx[np.argsort(-pop, kind="stable")[:5]]
    content = (om.features[:, anchors].T @ om.features[:, idx]).max(axis=0) if anchors.size else np.zeros(idx.size)
    score, scaled = ensemble({"topsis": t_scores, "collaborative": collab, "content": content}, w)
    order = _ranked(score, idx, om)[: req.limit]
    strengths = criterion_strengths(x, cweights, benefit)
    items = []
    for j in order:
        items.append(
            {
                **offer_summary(om, int(idx[j])),
                "score": r4(score[j]),
                "components": {k: r4(v[j]) for k, v in scaled.items()},
                "top_criteria": _top_criteria(strengths, names, int(j)),
            }
        )
    return {"path": path, "reason": reason, "weights": w, "count": int(idx.size), "items": items}
