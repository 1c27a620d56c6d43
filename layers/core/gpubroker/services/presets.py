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
from typing import Literal

import numpy as np

from gpubroker.domain.errors import NotFound
from gpubroker.domain.math_requests import EnsembleRequest, WeightedCriterion
from gpubroker.domain.math_results import (
    PersonalPresetOffer,
    PersonalPresetRanking,
    PresetOffer,
    PresetRanking,
    PresetResult,
    Savings,
)
from gpubroker.domain.types import r4
from gpubroker.services.collab import CfModel
from gpubroker.services.offer_math import OfferMath, OfferMathCache, candidate_mask, offer_summary, ranked
from gpubroker.services.recommend import ensemble_recommend
from gpumath.topsis import topsis

History = Mapping[str, Mapping[str, int]]

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


def _market_median(offer_math: OfferMath) -> dict[int, float]:
    """Median price per GPU-hour of live offers, per gpu_model code."""
    live = offer_math.cols.bools["available"]
    codes = offer_math.cols.codes["gpu_model"][live]
    prices = offer_math.cols.floats["price_per_gpu_hour"][live]
    return {int(c): float(np.median(prices[codes == c])) for c in np.unique(codes)}


def _savings_and_confidence(
    offer_math: OfferMath, i: int, s1: float, s2: float | None, medians: Mapping[int, float]
) -> Savings:
    cols = offer_math.cols
    code = int(cols.codes["gpu_model"][i])
    n = int(((cols.codes["gpu_model"] == code) & cols.bools["available"]).sum())
    median = medians.get(code)
    price = float(cols.floats["price_per_gpu_hour"][i])
    savings = (median - price) / median * 100 if median else 0.0
    margin = 0.5 + 0.5 * min(1.0, (s1 - s2) / MARGIN_FULL) if s2 is not None else 1.0
    confidence = (1 - np.exp(-n / SAMPLE_SCALE)) * margin
    return Savings(
        savings_pct=r4(savings),
        market_median_per_gpu_hour=r4(median or price),
        comparable_offers=n,
        confidence=r4(confidence),
    )


def _for_you(
    preset: Preset,
    *,
    offer_math: OfferMath,
    limit: int,
    user_id: str | None,
    model: CfModel | None,
    history: History | None,
    medians: Mapping[int, float],
) -> PersonalPresetRanking:
    """The for-you preset: the ensemble recommender's ranking, with savings and confidence."""
    request = EnsembleRequest(user_id=user_id, limit=limit)
    rec = ensemble_recommend(request, offer_math=offer_math, cf=model, history=history)
    scores = [it.score for it in rec.items]
    items = [
        PersonalPresetOffer(
            **it.model_dump(),
            **_savings_and_confidence(
                offer_math,
                offer_math.index_of(it.offer_id) or 0,
                scores[k],
                scores[k + 1] if k + 1 < len(scores) else None,
                medians,
            ).model_dump(),
        )
        for k, it in enumerate(rec.items)
    ]
    return PersonalPresetRanking(
        name=preset.name,
        description=preset.description,
        path=rec.path,
        reason=rec.reason,
        criteria=[],
        items=items,
        top_offer=items[0] if items else None,
    )


def run_preset(
    name: str,
    *,
    offer_math: OfferMath,
    limit: int,
    user_id: str | None,
    model: CfModel | None,
    history: History | None,
) -> PresetResult:
    """One preset's best ``limit`` offers; for-you ranks for ``user_id`` with the CF ``model`` and their
    interaction ``history`` (None: anonymous, the cold start)."""
    preset = PRESETS.get(name)
    if preset is None:
        raise NotFound(f"no preset {name!r}", details={"known": sorted(PRESETS)})
    medians = _market_median(offer_math)
    if not preset.criteria:
        return _for_you(
            preset, offer_math=offer_math, limit=limit, user_id=user_id, model=model, history=history, medians=medians
        )
    mask = candidate_mask(offer_math)
    if preset.min_reliability:
        mask &= offer_math.columns["reliability"] >= preset.min_reliability
    idx = np.flatnonzero(mask).astype(np.int64)
    names = [c for c, _ in preset.criteria]
    criteria = [WeightedCriterion(name=c, weight=w) for c, w in preset.criteria]
    if idx.size == 0:
        return PresetRanking(name=preset.name, description=preset.description, criteria=criteria, items=[],
                             top_offer=None)  # fmt: skip
    x, benefit = offer_math.criteria_matrix(names, idx)
    scores = topsis(x, np.array([w for _, w in preset.criteria]), benefit)
    order = ranked(scores, idx, offer_math)[: max(limit, 2)]
    items = []
    for k, j in enumerate(order[:limit]):
        nxt = float(scores[order[k + 1]]) if k + 1 < order.size else None
        savings = _savings_and_confidence(offer_math, int(idx[j]), float(scores[j]), nxt, medians)
        summary = offer_summary(offer_math, int(idx[j]))
        items.append(PresetOffer(**summary.model_dump(), score=r4(scores[j]), **savings.model_dump()))
    return PresetRanking(name=preset.name, description=preset.description, criteria=criteria, items=items,
                         top_offer=items[0])  # fmt: skip


def presets_for(
    *, offers: OfferMathCache, user_id: str | None, model: CfModel | None, history: History | None
) -> list[PresetResult]:
    """Every preset's top offer over the current snapshot; for-you ranked for ``user_id`` from their own
    ``history`` (None: anonymous, the cold start). The public routes pass no user, the ``/me`` routes the caller."""
    offer_math = offers.get()
    return [
        run_preset(n, offer_math=offer_math, limit=1, user_id=user_id, model=model, history=history) for n in PRESETS
    ]


def preset_for(
    name: str,
    *,
    limit: int,
    offers: OfferMathCache,
    user_id: str | None,
    model: CfModel | None,
    history: History | None,
) -> PresetResult:
    """One preset's ranked offers; for-you as in :func:`presets_for`."""
    return run_preset(name, offer_math=offers.get(), limit=limit, user_id=user_id, model=model, history=history)
