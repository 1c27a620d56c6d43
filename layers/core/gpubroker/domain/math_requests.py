"""Request models of the /math endpoints: every size, weight and count bounded (bad input is a 422).

Alternatives ("give this or that") are separate models joined in a union, so the OpenAPI document states
exactly what is accepted; the rules a schema cannot state (weights summing to 1, a matrix's shape) are checked
here too and answered with a 422.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.precision import FloatPrecision, Precision
from gpubroker.domain.types import Int, OfferId

MAX_ALTERNATIVES = 10_000
MAX_CRITERIA = 32
CRITERION_NAMES = (
    "price_per_gpu_hour", "price_per_hour", "gpu_memory_gb", "total_gpu_memory_gb", "gpu_count", "fp16_tflops",
    "total_fp16_tflops", "memory_bandwidth_gbps", "tflops_per_usd", "tflops_per_watt", "reliability",
)  # fmt: skip

if TYPE_CHECKING:
    GpuModel: TypeAlias = str
    CriterionName: TypeAlias = str
else:
    GpuModel = Literal[tuple(g.model for g in bundled_catalog().gpus)]
    CriterionName = Literal[CRITERION_NAMES]

UserId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@:-]+$")]
Price = Annotated[float, Field(ge=0.001, le=10_000, description="USD")]


PresetName = Literal[
    "best-value", "highest-performance", "most-reliable", "budget-friendly", "enterprise-grade", "for-you"
]
"""The public presets (``GET /presets/{name}``; ``services.presets``)."""


class _Strict(BaseModel):
    """JSON types as declared: no "1" for 1, no 1 for true (strict), no unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class OfferFilters(_Strict):
    gpu: list[GpuModel] = Field(default_factory=list, max_length=40)
    provider: list[Annotated[str, Field(max_length=32)]] = Field(default_factory=list, max_length=20)
    region: list[Annotated[str, Field(max_length=128)]] = Field(default_factory=list, max_length=50)
    max_price_per_gpu_hour: Price | None = None
    min_gpu_memory_gb: float | None = Field(default=None, ge=0, le=1024)


class MeasuredCostPerToken(_Strict):
    """USD per 1M tokens from a measured throughput."""

    price_per_hour: Price
    tokens_per_second: float = Field(ge=0.001, le=1e7)


class EstimatedCostPerToken(_Strict):
    """USD per 1M tokens estimated from the catalog: decode bound by memory bandwidth, capped by tensor TFLOPS.
    ``price_per_hour`` defaults to the cheapest live offer for the GPU (per GPU-hour)."""

    gpu_model: GpuModel
    model_params_b: float = Field(ge=0.01, le=2000, description="model size, billions of parameters")
    precision: Precision = Field(
        default="fp16",
        description="weights' format; int8/int4 are weight-only (computed at the fp16 tensor peak); a format the GPU "
        "lacks is a 422 precision_unsupported",
    )
    batch_size: Int = Field(default=1, ge=1, le=1024)
    price_per_hour: Price | None = None


class CostPerTokenByOffer(_Strict):
    """USD per 1M tokens of one offer: one of its GPUs (the catalog's figures for the offer's GPU model, board-unstated
    ``-Any`` models included) serving a model of ``model_params_b`` at the offer's own price per GPU-hour. Without
    ``precision`` the weights take the widest format that fits one GPU's memory (fp16, else int8, else int4; every
    GPU runs these). An offer for which the figure does not exist (the model fits no format on one GPU, or the GPU
    lacks the ``precision`` asked for) is answered ``method: "not_applicable"`` with the reason, not refused."""

    offer_id: OfferId
    model_params_b: float = Field(
        default=8, ge=0.01, le=2000, description="model size, billions of parameters (default 8: a Llama-3-8B class)"
    )
    precision: Precision | None = Field(
        default=None, description="weights' format; omitted: the widest of fp16, int8, int4 that fits one GPU"
    )
    batch_size: Int = Field(default=1, ge=1, le=1024)


CostPerTokenRequest = MeasuredCostPerToken | EstimatedCostPerToken | CostPerTokenByOffer


PRECISION_FIELD = (
    "the number format the arithmetic runs in: fp32 (non-tensor peak), fp16/bf16 (dense tensor peak), fp8 (dense FP8 "
    "tensor peak, 2x fp16 where the architecture has FP8 units); a format the GPU lacks is a 422 precision_unsupported"
)


class CostPerGflopRequest(_Strict):
    gpu_model: GpuModel
    precision: FloatPrecision = Field(default="fp16", description=PRECISION_FIELD)
    price_per_gpu_hour: Price | None = None
    utilisation: float = Field(default=1.0, ge=0.01, le=1)


class EfficiencyByOffer(_Strict):
    offer_id: OfferId
    cost_weight: float = Field(default=0.6, ge=0, le=1, description="power weight is 1 - cost_weight")
    precision: FloatPrecision = Field(default="fp16", description=PRECISION_FIELD)


class EfficiencyByGpu(_Strict):
    gpu_model: GpuModel
    price_per_gpu_hour: Price
    cost_weight: float = Field(default=0.6, ge=0, le=1, description="power weight is 1 - cost_weight")
    precision: FloatPrecision = Field(default="fp16", description=PRECISION_FIELD)


EfficiencyRequest = EfficiencyByOffer | EfficiencyByGpu


class WeightedCriterion(_Strict):
    name: CriterionName
    weight: float = Field(ge=0.001, le=1000)


class TopsisMatrix(_Strict):
    """``matrix``: alternatives x criteria; ``weights`` and ``types``: one per criterion."""

    matrix: list[Annotated[list[float], Field(min_length=1, max_length=MAX_CRITERIA)]] = Field(
        min_length=1, max_length=MAX_ALTERNATIVES
    )
    weights: list[Annotated[float, Field(ge=0, le=1e6)]] = Field(min_length=1, max_length=MAX_CRITERIA)
    types: list[Literal["benefit", "cost"]] = Field(min_length=1, max_length=MAX_CRITERIA)

    @model_validator(mode="after")
    def _shape(self) -> TopsisMatrix:
        m = len(self.weights)
        if len(self.types) != m or any(len(row) != m for row in self.matrix):
            raise ValueError("matrix rows, weights and types must all have one entry per criterion")
        if any(not math.isfinite(v) or abs(v) > 1e150 for row in self.matrix for v in row):
            raise ValueError("matrix values must be finite and |v| <= 1e150")
        if sum(self.weights) <= 0:
            raise ValueError("weights must have a positive sum")
        return self


class TopsisOffers(_Strict):
    """Rank live offers by named criteria (each criterion's direction is known: price is a cost, ...)."""

    filters: OfferFilters = Field(default_factory=OfferFilters)
    limit: Int = Field(default=20, ge=1, le=100)
    criteria: list[WeightedCriterion] = Field(min_length=1, max_length=len(CRITERION_NAMES))


TopsisRequest = TopsisMatrix | TopsisOffers


class PairwiseSimilarity(_Strict):
    offer_ids: list[OfferId] = Field(min_length=2, max_length=50)


class TopSimilar(_Strict):
    offer_id: OfferId
    top: Int = Field(default=10, ge=1, le=100)


SimilarityRequest = PairwiseSimilarity | TopSimilar


class EnsembleWeights(_Strict):
    topsis: float = Field(default=0.4, ge=0, le=1)
    collaborative: float = Field(default=0.3, ge=0, le=1)
    content: float = Field(default=0.3, ge=0, le=1)

    @model_validator(mode="after")
    def _sum(self) -> EnsembleWeights:
        total = self.topsis + self.collaborative + self.content
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"ensemble weights must sum to 1 (got {total})")
        return self


DEFAULT_CRITERIA = (
    WeightedCriterion(name="price_per_gpu_hour", weight=0.35),
    WeightedCriterion(name="fp16_tflops", weight=0.2),
    WeightedCriterion(name="gpu_memory_gb", weight=0.2),
    WeightedCriterion(name="memory_bandwidth_gbps", weight=0.1),
    WeightedCriterion(name="reliability", weight=0.15),
)


class EnsembleRequest(_Strict):
    user_id: UserId | None = Field(
        default=None, description="default: the caller; another user: admins only (none: the cold-start path)"
    )
    weights: EnsembleWeights = Field(default_factory=EnsembleWeights)
    criteria: list[WeightedCriterion] = Field(
        default_factory=lambda: list(DEFAULT_CRITERIA), min_length=1, max_length=len(CRITERION_NAMES)
    )
    filters: OfferFilters = Field(default_factory=OfferFilters)
    limit: Int = Field(default=10, ge=1, le=100)


class CollaborativeRequest(_Strict):
    user_id: UserId | None = Field(default=None, description="default: the caller; another user: admins only")
    top: Int = Field(default=10, ge=1, le=100)
    offer_ids: list[OfferId] | None = Field(default=None, min_length=1, max_length=1000)
