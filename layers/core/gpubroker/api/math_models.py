"""Response models of the /math endpoints (they document the API and are validated on the way out)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gpubroker.domain.math_results import PresetMinimum, PresetOrder, Savings


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class CostPerTokenOut(_Out):
    method: Literal["measured", "estimated", "not_applicable"] = Field(
        description="measured (from tokens_per_second), estimated (from the GPU catalog) or not_applicable (by offer: "
        "the model fits no weight format on one of its GPUs, or the GPU lacks the format asked for; `reason` and "
        "`explanation` say which, and there is no throughput or cost)"
    )
    price_per_hour: float
    tokens_per_second: float | None = Field(default=None, description="null only when method is not_applicable")
    usd_per_million_tokens: float | None = Field(default=None, description="null only when method is not_applicable")


class CostPerGflopOut(_Out):
    gpu_model: str
    precision: str
    tflops: float
    price_per_gpu_hour: float
    usd_per_pflop_hour: float
    usd_per_gflop: float


class EfficiencyOut(_Out):
    gpu_model: str
    price_per_gpu_hour: float
    score: float = Field(ge=0, le=100)
    tflops_per_usd: float
    tflops_per_watt: float
    formula: str


class OfferScore(_Out):
    offer_id: str
    provider: str
    gpu_model: str
    price_per_gpu_hour: float
    score: float | None = None


class TopsisOut(_Out):
    mode: str
    scores: list[float] | None = None
    ranking: list[int] | None = None
    items: list[OfferScore] | None = None


class SimilarityOut(_Out):
    offer_ids: list[str] | None = None
    matrix: list[list[float]] | None = None
    offer_id: str | None = None
    items: list[dict[str, Any]] | None = None


class RecommendationOut(_Out):
    path: str = Field(description="personalised, cold_start, collaborative, cold_start_popularity or empty")
    items: list[OfferScore]


class PresetItemOut(Savings):
    """One offer a preset returns: the offer's summary, its score, and its price against the market median."""

    model_config = ConfigDict(extra="allow")

    offer_id: str
    provider: str
    gpu_model: str
    gpu_count: int
    price_per_hour: float
    price_per_gpu_hour: float
    score: float = Field(
        description="the preset's first measure (order_by[0]) relative to the best offer that meets the minimum: "
        "value / best when more is better, best / value when less is; in (0, 1], 1 = as good as the best. "
        "for-you: the ensemble score in [0, 1]"
    )


class PresetOut(_Out):
    name: str
    description: str
    promise: str = Field(description="what the preset returns, in one sentence (the test suite holds it to it)")
    minimum: list[PresetMinimum] = Field(description="conditions every returned offer meets (for-you: none)")
    order_by: list[PresetOrder] = Field(
        description="the order: the first key decides, the next break ties, then the offer id (for-you: "
        "ensemble_score, descending)"
    )
    count: int = Field(description="live offers that meet the minimum (for-you: that the recommender ranked)")
    items: list[PresetItemOut]
    top_offer: PresetItemOut | None


class PresetList(BaseModel):
    items: list[PresetOut]
