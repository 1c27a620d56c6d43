"""Presets: named rankings over the live catalog, each with its top offers, savings against the market median
for the same GPU, and a confidence score.

Confidence (in [0, 1]) = sample x margin, where
- sample = 1 - exp(-n / 5), n = live offers of the same GPU model (how well the median is known), and
- margin = 0.5 + 0.5 x min(1, (s1 - s2) / 0.1), the lead of the top offer's score over the runner-up
  (a lead of 0.1 or more is a clear winner; a tie halves the confidence).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from gpubroker.domain.errors import NotFound
from gpubroker.domain.math_requests import EnsembleRequest, WeightedCriterion
from gpubroker.services.collab import CfModel
from gpubroker.services.offer_math import OfferMath, candidate_mask, offer_summary
from gpubroker.services.recommend import _ranked, ensemble_recommend, r4
from gpumath.topsis import topsis

if TYPE_CHECKING:
    from gpubroker.ports import InteractionRepository
    from gpubroker.services.collab import CfModelCache
    from gpubroker.services.offer_math import OfferMathCache

PresetName = Literal[
    "best-value", "highest-performance", "most-reliable", "budget-friendly", "enterprise-grade", "for-you"
]


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    criteria: tuple[tuple[str, float], ...]
    min_reliability: float = 0.0


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "best-value",
            "Most compute per dollar, with enough memory and a dependable host",
            (("tflops_per_usd", 0.5), ("price_per_gpu_hour", 0.2), ("gpu_memory_gb", 0.15), ("reliability", 0.15)),
        ),
        Preset(
            "highest-performance",
            "The fastest instances: total tensor TFLOPS, bandwidth and memory",
            (
                ("total_fp16_tflops", 0.45),
                ("memory_bandwidth_gbps", 0.25),
                ("total_gpu_memory_gb", 0.2),
                ("reliability", 0.1),
            ),
        ),
        Preset(
            "most-reliable",
            "Provider-run data centres, dedicated hosts, fresh data",
            (("reliability", 0.6), ("price_per_gpu_hour", 0.2), ("gpu_memory_gb", 0.2)),
        ),
        Preset(
            "budget-friendly",
            "The lowest hourly bill that still gets a GPU",
            (("price_per_hour", 0.6), ("price_per_gpu_hour", 0.2), ("gpu_memory_gb", 0.2)),
        ),
        Preset(
            "enterprise-grade",
            "Only provider-run data centres (no marketplace or community hosts)",
            (("reliability", 0.3), ("fp16_tflops", 0.25), ("gpu_memory_gb", 0.25), ("price_per_gpu_hour", 0.2)),
            min_reliability=1.0,
        ),
        Preset("for-you", "Personalised: the ensemble recommender (cold-start fallback when anonymous)", ()),
    )
}
SAMPLE_SCALE = 5.0
MARGIN_FULL = 0.1


def _market_median(om: OfferMath) -> dict[int, float]:
    """Median price per GPU-hour of live offers, per gpu_model code."""
    live = om.cols.bools["available"]
    codes = om.cols.codes["gpu_model"][live]
    prices = om.cols.floats["price_per_gpu_hour"][live]
    return {int(c): float(np.median(prices[codes == c])) for c in np.unique(codes)}


def _savings_and_confidence(
    om: OfferMath, i: int, s1: float, s2: float | None, medians: Mapping[int, float]
) -> dict[str, Any]:
    code = int(om.cols.codes["gpu_model"][i])
    n = int(((om.cols.codes["gpu_model"] == code) & om.cols.bools["available"]).sum())
    median = medians.get(code)
    price = float(om.cols.floats["price_per_gpu_hour"][i])
    savings = (median - price) / median * 100 if median else 0.0
    margin = 0.5 + 0.5 * min(1.0, (s1 - s2) / MARGIN_FULL) if s2 is not None else 1.0
    confidence = (1 - np.exp(-n / SAMPLE_SCALE)) * margin
    return {
        "savings_pct": r4(savings),
        "market_median_per_gpu_hour": r4(median or price),
        "comparable_offers": n,
        "confidence": r4(confidence),
    }


def run_preset(
    name: str,
    *,
    om: OfferMath,
    limit: int,
    user_id: str | None,
    cf: CfModel | None,
    history: Mapping[str, Mapping[str, int]] | None,
) -> dict[str, Any]:
    preset = PRESETS.get(name)
    if preset is None:
        raise NotFound(f"no preset {name!r}", details={"known": sorted(PRESETS)})
    medians = _market_median(om)
    base = {"name": preset.name, "description": preset.description}
    if not preset.criteria:
        rec = ensemble_recommend(EnsembleRequest(user_id=user_id, limit=limit), om=om, cf=cf, history=history)
        items = rec["items"]
        scores = [it["score"] for it in items]
        out_items = [
            {
                **it,
                **_savings_and_confidence(
                    om,
                    om.index_of(it["offer_id"]) or 0,
                    scores[k],
                    scores[k + 1] if k + 1 < len(scores) else None,
                    medians,
                ),
            }
            for k, it in enumerate(items)
        ]
        return {
            **base,
            "path": rec["path"],
            "reason": rec["reason"],
            "criteria": [],
            "items": out_items,
            "top_offer": out_items[0] if out_items else None,
        }
    mask = candidate_mask(om)
    if preset.min_reliability:
        mask &= om.columns["reliability"] >= preset.min_reliability
    idx = np.flatnonzero(mask).astype(np.int64)
    names = [c for c, _ in preset.criteria]
    criteria = [WeightedCriterion(name=c, weight=w) for c, w in preset.criteria]
    if idx.size == 0:
        return {**base, "criteria": [c.model_dump() for c in criteria], "items": [], "top_offer": None}
    x, benefit = om.criteria_matrix(names, idx)
    ranked = topsis(x, np.array([w for _, w in preset.criteria]), benefit)
    order = _ranked(ranked, idx, om)[: max(limit, 2)]
    items = []
    for k, j in enumerate(order[:limit]):
        nxt = float(ranked[order[k + 1]]) if k + 1 < order.size else None
        items.append(
            {
                **offer_summary(om, int(idx[j])),
                "score": r4(ranked[j]),
                **_savings_and_confidence(om, int(idx[j]), float(ranked[j]), nxt, medians),
            }
        )
    return {**base, "criteria": [c.model_dump() for c in criteria], "items": items, "top_offer": items[0]}


def list_presets(
    *, om: OfferMath, user_id: str | None, cf: CfModel | None, history: Mapping[str, Mapping[str, int]] | None
) -> list[dict[str, Any]]:
    return [run_preset(n, om=om, limit=1, user_id=user_id, cf=cf, history=history) for n in PRESETS]


def presets_for(
    *, offers: OfferMathCache, models: CfModelCache, interactions: InteractionRepository | None, user_id: str | None
) -> list[dict[str, Any]]:
    """Every preset's top offer; for-you ranked for ``user_id`` from their own interactions (None: anonymous, the
    cold start, and no interactions are read). The public routes pass None, the ``/me`` routes the caller."""
    history = interactions.history(user_id) if interactions is not None and user_id else None
    return list_presets(om=offers.get(), user_id=user_id, cf=models.get(), history=history)


def preset_for(
    name: str,
    limit: int,
    *,
    offers: OfferMathCache,
    models: CfModelCache,
    interactions: InteractionRepository | None,
    user_id: str | None,
) -> dict[str, Any]:
    """One preset's ranked offers; for-you as in :func:`presets_for`."""
    history = interactions.history(user_id) if interactions is not None and user_id else None
    return run_preset(name, om=offers.get(), limit=limit, user_id=user_id, cf=models.get(), history=history)
