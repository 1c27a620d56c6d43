"""The market summary (``GET /market/summary``, ``services.market``): prices per GPU model, a price histogram,
provider shares and 7-day trends. Prices in USD per GPU-hour (``domain.types.r4``); shares in %."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DailyPrice(BaseModel):
    date: str = Field(description="UTC day, YYYY-MM-DD")
    median_price_per_gpu_hour: float = Field(
        description="the median across providers of each provider's median price per GPU-hour that day"
    )
    providers: int = Field(description="providers with a price that day")
    points: int = Field(description="price points of the day")


class PriceTrend(BaseModel):
    """The daily cross-provider median price per GPU-hour over a window, and the change from its first to its last
    day."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True, validate_by_alias=True)

    days: list[DailyPrice]
    change_pct: float
    direction: Literal["up", "down", "flat"] = Field(description="flat: a change under 1 %")
    from_: str = Field(alias="from", description="the first day")
    to: str = Field(description="the last day")
    providers: int = Field(description="providers with a price on any day of the window")
    series: int = Field(description="price series (one per offer, or per public series) in the window")
    basis: str = Field(description="how the figures were built, in words (which series, how many, which days)")


class MarketTrend(PriceTrend):
    source: Literal["offers", "public series"] = Field(
        description="GPUBroker's own offer points when they span two days or more, else the public reference series"
    )


class GpuMarket(BaseModel):
    gpu_model: str
    offers: int = Field(description="live offers")
    gpus: int = Field(description="GPUs across those offers, one instance of each (the sum of their gpu_count)")
    avg_price_per_gpu_hour: float
    median_price_per_gpu_hour: float = Field(
        description="median over the live offers of this model across every provider: the market median the "
        "presets' savings_pct is measured against"
    )
    best_price_per_gpu_hour: float
    savings_potential_pct: float = Field(description="(median - best) / median, in %")


class PriceBin(BaseModel):
    """Live offers priced in [min, max) USD per GPU-hour; ``max`` null for the open last bin."""

    min: float
    max: float | None
    offers: int


class ProviderShare(BaseModel):
    provider: str
    offers: int
    offer_share_pct: float
    gpu_share_pct: float


class MarketSummary(BaseModel):
    snapshot_version: str
    active_providers: list[str]
    available_offers: dict[str, int] = Field(description="live offers per GPU model (offers, not GPUs)")
    gpus_in_live_offers: dict[str, int] = Field(
        description="GPUs per GPU model across the live offers, one instance of each offer (the sum of gpu_count): "
        "what one rental of every live offer would give, not a provider's stock (catalogs do not publish stock)"
    )
    live_offers: int
    avg_price_per_gpu_hour: float | None = Field(description="over live offers; null when there is none")
    by_gpu: list[GpuMarket]
    price_histogram: list[PriceBin]
    provider_share: list[ProviderShare]
    trend_7d: dict[str, MarketTrend]
    stale: bool
