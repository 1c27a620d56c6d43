"""Request models of the /math endpoints: every size, weight and count bounded (bad input is a 422)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_ALTERNATIVES = 10_000
MAX_CRITERIA = 32
Precision = Literal["fp16", "bf16", "fp32"]
ModelPrecision = Literal["fp32", "fp16", "bf16", "fp8", "int8", "int4"]
BYTES_PER_PARAM: dict[str, float] = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OfferFilters(_Strict):
    gpu: list[str] = Field(default_factory=list, max_length=40)
    provider: list[str] = Field(default_factory=list, max_length=20)
    region: list[str] = Field(default_factory=list, max_length=50)
    max_price_per_gpu_hour: float | None = Field(default=None, gt=0, le=10_000)
    min_gpu_memory_gb: float | None = Field(default=None, ge=0, le=1024)


class CostPerTokenRequest(_Strict):
    """Either ``tokens_per_second`` (measured) or ``gpu_model`` + ``model_params_b`` (estimated from the catalog:
    decode bound by memory bandwidth). ``price_per_hour`` defaults to the cheapest live offer for the GPU."""

    price_per_hour: float | None = Field(default=None, gt=0, le=10_000)
    tokens_per_second: float | None = Field(default=None, gt=0, le=1e7)
    gpu_model: str | None = Field(default=None, max_length=64)
    model_params_b: float | None = Field(default=None, gt=0, le=2000)
    precision: ModelPrecision = "fp16"
    batch_size: int = Field(default=1, ge=1, le=1024)

    @model_validator(mode="after")
    def _one_way(self) -> CostPerTokenRequest:
        if self.tokens_per_second is not None:
            if self.price_per_hour is None:
                raise ValueError("price_per_hour is required with tokens_per_second")
        elif self.gpu_model is None or self.model_params_b is None:
            raise ValueError("give tokens_per_second, or gpu_model and model_params_b")
        return self


class CostPerGflopRequest(_Strict):
    gpu_model: str = Field(max_length=64)
    precision: Precision = "bf16"
    price_per_gpu_hour: float | None = Field(default=None, gt=0, le=10_000)
    utilisation: float = Field(default=1.0, gt=0, le=1)


class EfficiencyRequest(_Strict):
    """Score an offer (``offer_id``) or a GPU at a price (``gpu_model`` + ``price_per_gpu_hour``)."""

    offer_id: str | None = Field(default=None, max_length=80)
    gpu_model: str | None = Field(default=None, max_length=64)
    price_per_gpu_hour: float | None = Field(default=None, gt=0, le=10_000)
    cost_weight: float = Field(default=0.6, ge=0, le=1)
    power_weight: float = Field(default=0.4, ge=0, le=1)

    @model_validator(mode="after")
    def _target(self) -> EfficiencyRequest:
        if (self.offer_id is None) == (self.gpu_model is None):
            raise ValueError("give exactly one of offer_id or gpu_model")
        if self.gpu_model is not None and self.price_per_gpu_hour is None:
            raise ValueError("price_per_gpu_hour is required with gpu_model")
        if abs(self.cost_weight + self.power_weight - 1) > 1e-9:
            raise ValueError("cost_weight + power_weight must be 1")
        return self


class WeightedCriterion(_Strict):
    name: str = Field(max_length=64)
    weight: float = Field(gt=0, le=1000)


class TopsisRequest(_Strict):
    """Matrix mode: ``matrix`` (alternatives x criteria), ``weights``, ``types``. Offers mode: ``criteria`` over the
    live catalog with optional ``filters``."""

    matrix: list[list[float]] | None = Field(default=None, max_length=MAX_ALTERNATIVES)
    weights: list[float] | None = Field(default=None, max_length=MAX_CRITERIA)
    types: list[Literal["benefit", "cost"]] | None = Field(default=None, max_length=MAX_CRITERIA)
    criteria: list[WeightedCriterion] | None = Field(default=None, min_length=1, max_length=MAX_CRITERIA)
    filters: OfferFilters = Field(default_factory=OfferFilters)
    limit: int = Field(default=20, ge=1, le=100)

    @model_validator(mode="after")
    def _shape(self) -> TopsisRequest:
        if self.criteria is not None:
            if self.matrix is not None or self.weights is not None or self.types is not None:
                raise ValueError("give either criteria (offers mode) or matrix/weights/types (matrix mode)")
            return self
        if self.matrix is None or self.weights is None or self.types is None:
            raise ValueError("matrix mode needs matrix, weights and types")
        m = len(self.weights)
        if not self.matrix or m == 0 or len(self.types) != m or any(len(row) != m for row in self.matrix):
            raise ValueError("matrix rows, weights and types must all have one entry per criterion")
        if any(not math.isfinite(v) for row in self.matrix for v in row):
            raise ValueError("matrix values must be finite")
        if any(not math.isfinite(w) or w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError("weights must be >= 0 with a positive sum")
        return self


class SimilarityRequest(_Strict):
    """``offer_ids`` (2..50): their pairwise similarity matrix; or ``offer_id``: its ``top`` most similar offers."""

    offer_ids: list[str] | None = Field(default=None, min_length=2, max_length=50)
    offer_id: str | None = Field(default=None, max_length=80)
    top: int = Field(default=10, ge=1, le=100)

    @model_validator(mode="after")
    def _one(self) -> SimilarityRequest:
        if (self.offer_ids is None) == (self.offer_id is None):
            raise ValueError("give exactly one of offer_ids or offer_id")
        return self


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
    user_id: str | None = Field(default=None, min_length=1, max_length=128)
    weights: EnsembleWeights = Field(default_factory=EnsembleWeights)
    criteria: list[WeightedCriterion] = Field(
        default_factory=lambda: list(DEFAULT_CRITERIA), min_length=1, max_length=MAX_CRITERIA
    )
    filters: OfferFilters = Field(default_factory=OfferFilters)
    limit: int = Field(default=10, ge=1, le=100)


class CollaborativeRequest(_Strict):
    user_id: str = Field(min_length=1, max_length=128)
    top: int = Field(default=10, ge=1, le=100)
    offer_ids: list[str] | None = Field(default=None, min_length=1, max_length=1000)


InteractionKind = Literal["view", "save", "book"]
# explicit rating per (user, offer) = the strongest signal seen: view 1, save 3, book 5 (a 1..5 scale)
INTERACTION_WEIGHTS: dict[str, float] = {"view": 1.0, "save": 3.0, "book": 5.0}


class InteractionRequest(_Strict):
    user_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@:-]+$")
    offer_id: str = Field(min_length=3, max_length=80, pattern=r"^[a-z0-9-]+$")
    kind: InteractionKind

    @field_validator("user_id")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()
