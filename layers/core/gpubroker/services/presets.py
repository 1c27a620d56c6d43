"""Presets: named rankings of the live offers, each keeping one promise it states in a sentence.

A preset other than for-you is a **minimum** (conditions every offer it returns meets) and an **order** (keys,
the first deciding, the next breaking ties, then the offer id): it returns the first ``limit`` live offers that
meet the minimum, in that order, so "no qualifying offer that sorts earlier is left out" holds by construction and
is tested on the real catalogs. for-you is the ensemble recommender (cold start when anonymous).

Per offer, each answer adds
- ``score``: the preset's first measure relative to the best qualifying offer (``value / best`` for a measure
  where more is better, ``best / value`` where less is), in (0, 1]; 1 = as good as the best. for-you: the
  ensemble score.
- savings against the market median of the same GPU model (``domain.math_results.Savings``): ``savings_pct`` in
  [0, 100) (0 = no saving), ``price_vs_median_pct`` signed. An offer dearer than its median stays when the
  promise ranks it (docs/decisions.md, "Presets keep promises").
- confidence in [0, 1] = sample x margin, where sample = 1 - exp(-n / 5), n = live offers of the same GPU model
  (how well the median is known), and margin = 0.5 + 0.5 x min(1, (s1 - s2) / 0.1), the lead of this offer's score
  over the next one's (a lead of 0.1 or more is a clear winner; a tie halves the confidence).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gpubroker.domain.errors import NotFound
from gpubroker.domain.math_requests import EnsembleRequest
from gpubroker.domain.math_results import (
    PersonalPresetOffer,
    PersonalPresetRanking,
    PresetMinimum,
    PresetOffer,
    PresetOrder,
    PresetRanking,
    PresetResult,
    Savings,
)
from gpubroker.domain.types import r4
from gpubroker.services.collab import CfModel
from gpubroker.services.offer_math import OfferMath, OfferMathCache, candidate_mask, offer_summary
from gpubroker.services.recommend import ensemble_recommend
from gpumath.arrays import F64
from gpumath.groups import GroupStats

History = Mapping[str, Mapping[str, int]]


BUDGET_MIN_MEMORY_GB = 16.0  # the smallest common data-centre GPU (T4, V100, A4000): a 7B model at 8 bits fits
VALUE_MIN_MEMORY_GB = 24.0  # a 7B model at 16 bits, SDXL, LoRA fine-tuning of a 7B model
VALUE_MIN_RELIABILITY = 0.6  # any host whose provider's last run succeeded (stale offers score half: <= 0.5)
ENTERPRISE_RELIABILITY = 1.0  # provider-run data centre, not a community tier, fresh data


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    promise: str
    minimum: tuple[tuple[str, float, str], ...] = ()  # (criterion, at least, meaning)
    order: tuple[tuple[str, bool], ...] = ()  # (criterion, higher first)

    @property
    def personal(self) -> bool:
        return not self.order


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "best-value",
            "Most compute per dollar",
            f"The most dense FP16/BF16 tensor TFLOPS per dollar of GPU-hour among live offers with at least "
            f"{VALUE_MIN_MEMORY_GB:g} GB of memory per GPU and a reliability of at least {VALUE_MIN_RELIABILITY:g}; "
            "among equals, the cheaper per GPU-hour.",
            minimum=(
                ("gpu_memory_gb", VALUE_MIN_MEMORY_GB, "GB of memory per GPU"),
                ("reliability", VALUE_MIN_RELIABILITY, "reliability: a host whose provider's last run succeeded"),
            ),
            order=(("tflops_per_usd", True), ("price_per_gpu_hour", False)),
        ),
        Preset(
            "highest-performance",
            "The fastest instances",
            "The live instances with the most dense FP16/BF16 tensor TFLOPS in total across their GPUs; among "
            "equals, more total GPU memory, then the lower hourly price.",
            order=(("total_fp16_tflops", True), ("total_gpu_memory_gb", True), ("price_per_hour", False)),
        ),
        Preset(
            "most-reliable",
            "Provider-run data centres, dedicated hosts, fresh data",
            "The live offers with the highest reliability score (provider-run data centres and dedicated hosts with "
            "fresh data score highest, marketplace and community hosts lower); among equals, the cheapest per "
            "GPU-hour.",
            order=(("reliability", True), ("price_per_gpu_hour", False)),
        ),
        Preset(
            "budget-friendly",
            "The lowest hourly bill",
            f"The lowest hourly price among live offers with at least {BUDGET_MIN_MEMORY_GB:g} GB of memory per "
            "GPU; among equals, the cheaper per GPU-hour, then more memory per GPU.",
            minimum=(("gpu_memory_gb", BUDGET_MIN_MEMORY_GB, "GB of memory per GPU"),),
            order=(("price_per_hour", False), ("price_per_gpu_hour", False), ("gpu_memory_gb", True)),
        ),
        Preset(
            "enterprise-grade",
            "HBM data-centre GPUs in provider-run data centres",
            f"Live offers of data-centre GPUs with HBM memory, only in provider-run data centres (reliability "
            f"{ENTERPRISE_RELIABILITY:g}: no marketplace or community hosts, fresh data); the most dense FP16/BF16 "
            "tensor TFLOPS per GPU first, then the cheapest per GPU-hour.",
            minimum=(
                ("hbm_memory", 1.0, "the GPU has HBM memory (1) rather than GDDR (0)"),
                ("reliability", ENTERPRISE_RELIABILITY, "reliability: a provider-run data centre with fresh data"),
            ),
            order=(("fp16_tflops", True), ("price_per_gpu_hour", False)),
        ),
        Preset(
            "for-you",
            "Personalised",
            "Picked for you by the ensemble recommender (TOPSIS, collaborative filtering and similarity to the "
            "offers you viewed, saved or booked); with no history, the cold-start ranking by popularity and "
            "similarity to the most popular offers.",
        ),
    )
}
SAMPLE_SCALE = 5.0
MARGIN_FULL = 0.1


def savings(offer_math: OfferMath, idx: NDArray[np.int64], scores: F64, stats: GroupStats) -> list[Savings]:
    """Savings and confidence of the offers at ``idx`` (best first, with their ``scores``): vectorised."""
    cols = offer_math.cols
    code = cols.codes["gpu_model"][idx]
    price = cols.floats["price_per_gpu_hour"][idx]
    n = stats.n[code]
    median = np.where(n > 0, stats.median[code], price)  # an offer not live has no market: its own price
    relative = (price - median) / median * 100.0
    lead = np.append(scores[:-1] - scores[1:], MARGIN_FULL)[: idx.size]  # the last one has no runner-up
    margin = 0.5 + 0.5 * np.minimum(1.0, np.maximum(lead, 0.0) / MARGIN_FULL)
    confidence = (1.0 - np.exp(-n / SAMPLE_SCALE)) * margin
    return [
        Savings(
            savings_pct=r4(max(0.0, -float(relative[k]))),
            price_vs_median_pct=r4(float(relative[k])),
            market_median_per_gpu_hour=r4(float(median[k])),
            comparable_offers=int(n[k]),
            confidence=r4(float(confidence[k])),
        )
        for k in range(idx.size)
    ]


def qualifying(preset: Preset, offer_math: OfferMath, top: int | None = None) -> tuple[NDArray[np.int64], int]:
    """The live offers that meet the preset's minimum, in the preset's order (offer id last): the first ``top`` of
    them (all when None), and how many qualify."""
    mask = candidate_mask(offer_math)
    for criterion, at_least, _ in preset.minimum:
        mask &= offer_math.columns[criterion] >= at_least
    idx = np.flatnonzero(mask).astype(np.int64)
    count = int(idx.size)
    first, higher_first = preset.order[0]
    primary = -offer_math.columns[first][idx] if higher_first else offer_math.columns[first][idx]
    keys: list[NDArray[np.generic]] = [offer_math.id_rank[idx]]
    for criterion, higher in reversed(preset.order[1:]):  # np.lexsort: the last key is the primary one
        column = offer_math.columns[criterion][idx]
        keys.append(-column if higher else column)
    keys.append(primary)
    ordered: NDArray[np.int64] = idx[np.lexsort(keys)] if idx.size else idx
    return (ordered if top is None else ordered[:top]), count


def relative_scores(preset: Preset, offer_math: OfferMath, ordered: NDArray[np.int64], top: int) -> F64:
    """The first ``top`` offers' first measure relative to the best qualifying offer, in (0, 1]."""
    criterion, higher_first = preset.order[0]
    values = offer_math.columns[criterion][ordered[:top]]
    best = offer_math.columns[criterion][ordered[0]] if ordered.size else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = values / best if higher_first else best / values
    out: F64 = np.where(np.isfinite(ratio), np.clip(ratio, 0.0, 1.0), 1.0)
    return out


def _ranking(preset: Preset, *, offer_math: OfferMath, limit: int, stats: GroupStats) -> PresetRanking:
    ordered, count = qualifying(preset, offer_math, limit + 1)  # one more: the last pick's lead
    top = ordered[:limit]
    scores = relative_scores(preset, offer_math, ordered, limit + 1)
    found = savings(offer_math, top, scores, stats)
    items = [
        PresetOffer(**offer_summary(offer_math, int(i)).model_dump(), score=r4(scores[k]), **found[k].model_dump())
        for k, i in enumerate(top)
    ]
    return PresetRanking(
        name=preset.name,
        description=preset.description,
        promise=preset.promise,
        minimum=[PresetMinimum(criterion=c, at_least=v, meaning=m) for c, v, m in preset.minimum],
        order_by=[PresetOrder(criterion=c, direction="descending" if h else "ascending") for c, h in preset.order],
        count=count,
        items=items,
        top_offer=items[0] if items else None,
    )


def _for_you(
    preset: Preset,
    *,
    offer_math: OfferMath,
    limit: int,
    user_id: str | None,
    model: CfModel | None,
    history: History | None,
    stats: GroupStats,
) -> PersonalPresetRanking:
    """The for-you preset: the ensemble recommender's ranking, with savings and confidence."""
    rec = ensemble_recommend(EnsembleRequest(user_id=user_id, limit=limit), offer_math=offer_math, cf=model,
                             history=history)  # fmt: skip
    idx = np.array([offer_math.index_of(it.offer_id) for it in rec.items], dtype=np.int64)
    found = savings(offer_math, idx, np.array([it.score for it in rec.items], dtype=np.float64), stats)
    items = [PersonalPresetOffer(**it.model_dump(), **s.model_dump()) for it, s in zip(rec.items, found, strict=True)]
    return PersonalPresetRanking(
        name=preset.name,
        description=preset.description,
        promise=preset.promise,
        minimum=[],
        order_by=[PresetOrder(criterion="ensemble_score", direction="descending")],
        path=rec.path,
        reason=rec.reason,
        count=rec.count,
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
    stats = offer_math.live_price_stats
    if preset.personal:
        return _for_you(preset, offer_math=offer_math, limit=limit, user_id=user_id, model=model, history=history,
                        stats=stats)  # fmt: skip
    return _ranking(preset, offer_math=offer_math, limit=limit, stats=stats)


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
