"""What the /math use cases return (``services.kpis``, ``services.recommend``, ``services.presets``): typed results,
figures already rounded (``domain.types.r4``). Alternatives that answer with different fields (a measured or an
estimated cost, a matrix or offers) are separate models joined in a union, so no result carries a field it does
not fill. The API documents them with ``gpubroker.api.math_models``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gpubroker.domain.math_requests import EnsembleWeights


class _Result(BaseModel):
    """Validators are built on first use (``defer_build``): a function builds the few results it answers with at its
    first request, not all 21 at import (measured: ~7 ms of every math function's cold import)."""

    model_config = ConfigDict(defer_build=True)


# ---- KPIs ----------------------------------------------------------------------------------------------------


class MeasuredCost(_Result):
    """USD per 1M tokens from a throughput the caller measured."""

    method: Literal["measured"] = "measured"
    price_per_hour: float
    tokens_per_second: float
    usd_per_million_tokens: float


class EstimatedCost(_Result):
    """USD per 1M tokens from the GPU catalog (decode bandwidth, capped by compute)."""

    method: Literal["estimated"] = "estimated"
    gpu_model: str
    offer_id: str | None
    precision: str
    bottleneck: Literal["memory_bandwidth", "compute"]
    assumptions: list[str]
    price_per_hour: float
    tokens_per_second: float
    usd_per_million_tokens: float


class NotApplicableCost(_Result):
    """An offer whose cost per token does not exist as asked: the model fits none of the weight formats on one of its
    GPUs, or its GPU lacks the format asked for. ``explanation`` says so in words a person reads."""

    method: Literal["not_applicable"] = "not_applicable"
    gpu_model: str
    offer_id: str
    reason: Literal["insufficient_memory", "precision_unsupported"]
    explanation: str
    price_per_hour: float


CostPerToken = MeasuredCost | EstimatedCost | NotApplicableCost


class CostPerGflop(_Result):
    gpu_model: str
    precision: str
    tflops: float
    utilisation: float
    price_per_gpu_hour: float
    offer_id: str | None
    usd_per_pflop_hour: float
    usd_per_gflop: float


class EfficiencyReference(_Result):
    """The market bests a score is measured against."""

    tflops_per_usd: float
    tflops_per_watt: float


class Efficiency(_Result):
    gpu_model: str
    precision: str
    tflops: float
    price_per_gpu_hour: float
    score: float
    tflops_per_usd: float
    tflops_per_watt: float
    reference: EfficiencyReference
    formula: str


# ---- offers, ranked ------------------------------------------------------------------------------------------


class OfferSummary(_Result):
    """The few fields of an offer a ranking shows (``services.offer_math.offer_summary``)."""

    offer_id: str
    provider: str
    instance_type: str
    gpu_model: str
    gpu_count: int
    gpu_memory_gb: float
    region: str
    price_per_hour: float
    price_per_gpu_hour: float
    available: bool
    stale: bool


class ScoredOffer(OfferSummary):
    score: float


class TopsisOffer(ScoredOffer):
    top_criteria: list[str]


class SimilarOffer(OfferSummary):
    similarity: float


class EnsembleOffer(TopsisOffer):
    components: dict[str, float]


class TopsisScores(_Result):
    """TOPSIS over a decision matrix: a score per alternative and their order, best first."""

    mode: Literal["matrix"] = "matrix"
    scores: list[float]
    ranking: list[int]


class TopsisRanking(_Result):
    """TOPSIS over the live offers: the best ``limit`` of ``count`` candidates."""

    mode: Literal["offers"] = "offers"
    criteria: list[str]
    count: int
    items: list[TopsisOffer]


TopsisResult = TopsisScores | TopsisRanking


class SimilarityMatrix(_Result):
    offer_ids: list[str]
    matrix: list[list[float]]


class SimilarOffers(_Result):
    offer_id: str
    items: list[SimilarOffer]


SimilarityResult = SimilarityMatrix | SimilarOffers


class CollaborativeScores(_Result):
    user_id: str
    known_user: bool
    path: Literal["collaborative", "cold_start_popularity"]
    model: dict[str, Any] | None
    items: list[ScoredOffer]


class Recommendation(_Result):
    """The ensemble's answer: which path it took and why, the weights it used, the best offers."""

    path: Literal["personalised", "cold_start", "empty"]
    reason: str
    weights: EnsembleWeights
    count: int
    items: list[EnsembleOffer]


# ---- presets -------------------------------------------------------------------------------------------------

SAVINGS_PCT = (
    "How much cheaper per GPU-hour this offer is than the market median of the same GPU model, in %: "
    "(market_median_per_gpu_hour - price_per_gpu_hour) / market_median_per_gpu_hour x 100, in [0, 100). "
    "0 means no saving: the offer costs the median or more (price_vs_median_pct says how much more). "
    "A preset keeps such an offer when its promise ranks it: the promise is about its own measure, not the price."
)


class Savings(_Result):
    """An offer's price against the market median of the same GPU, and how sure the ranking is
    (``services.presets``)."""

    savings_pct: float = Field(ge=0, lt=100, description=SAVINGS_PCT)
    price_vs_median_pct: float = Field(
        gt=-100,
        description="(price_per_gpu_hour - market_median_per_gpu_hour) / market_median_per_gpu_hour x 100: "
        "negative = cheaper than the median (the saving), positive = dearer (a premium), 0 = the median",
    )
    market_median_per_gpu_hour: float = Field(
        description="median price per GPU-hour (USD) of the live offers of the same GPU model across every provider "
        "(the market summary's median_price_per_gpu_hour for that model)"
    )
    comparable_offers: int = Field(description="live offers of the same GPU model the median is taken over")
    confidence: float = Field(
        ge=0,
        le=1,
        description="(1 - exp(-comparable_offers / 5)) x (0.5 + 0.5 x min(1, lead / 0.1)), lead = this offer's "
        "score minus the next one's: how well the median is known times how clearly this offer leads",
    )


class PresetOffer(Savings, ScoredOffer):
    pass


class PersonalPresetOffer(Savings, EnsembleOffer):
    pass


class PresetMinimum(_Result):
    """A condition every offer a preset returns meets: ``criterion >= at_least``."""

    criterion: str = Field(description="a per-offer figure (``services.offer_math.CRITERIA`` and ``hbm_memory``)")
    at_least: float
    meaning: str


class PresetOrder(_Result):
    """One key of a preset's order; the first key decides, the next ones break ties (then the offer id)."""

    criterion: str
    direction: Literal["descending", "ascending"]


class PresetRanking(_Result):
    """A preset: the live offers that meet its minimum, in its order. ``promise`` says both in one sentence;
    ``minimum`` and ``order_by`` say them to a machine."""

    name: str
    description: str
    promise: str
    minimum: list[PresetMinimum]
    order_by: list[PresetOrder]
    count: int = Field(description="live offers that meet the minimum")
    items: list[PresetOffer]
    top_offer: PresetOffer | None


class PersonalPresetRanking(_Result):
    """The for-you preset: the ensemble recommender's ranking (``path`` and ``reason`` as in ``Recommendation``)."""

    name: str
    description: str
    promise: str
    minimum: list[PresetMinimum] = Field(description="none: every live offer is a candidate")
    order_by: list[PresetOrder] = Field(description="the ensemble score, descending")
    path: str
    reason: str
    count: int = Field(description="live offers the recommender ranked")
    items: list[PersonalPresetOffer]
    top_offer: PersonalPresetOffer | None


PresetResult = PresetRanking | PersonalPresetRanking
