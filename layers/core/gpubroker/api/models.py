"""Response models: they document the API (OpenAPI) and are validated on the way out."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, Field


class OfferOut(BaseModel):
    offer_id: str
    provider: str
    instance_type: str
    gpu_model: str
    gpu_vendor: str
    gpu_memory_gb: float = Field(description="per GPU, GB")
    gpu_count: int
    form_factor: str | None
    vcpus: float | None
    ram_gb: float | None = Field(description="host RAM, GB")
    region: str
    price_per_hour: float = Field(description="USD per hour, whole instance")
    price_per_gpu_hour: float = Field(description="USD per GPU-hour")
    spot_price_per_hour: float | None
    available: bool
    compliance: list[str]
    as_of: AwareDatetime
    stale: bool
    source: str


class OfferPage(BaseModel):
    items: list[OfferOut]
    count: int = Field(description="offers matching the filters in this snapshot")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")
    snapshot_version: str
    stale: bool = Field(description="true when any returned offer comes from a provider whose last run failed")


class ProviderOut(BaseModel):
    name: str
    display_name: str
    website: str
    marketplace: bool
    offers: int
    available_offers: int
    as_of: AwareDatetime | None
    stale: bool


class ProviderList(BaseModel):
    items: list[ProviderOut]


class Health(BaseModel):
    status: str
    service: str
