"""Response models: they document the API (OpenAPI) and are validated on the way out. A service's result that is
exactly the answer (an offer page, a provider) is defined in the domain and named here."""

from __future__ import annotations

from pydantic import BaseModel

from gpubroker.domain.gpus import GpuSpec
from gpubroker.domain.providers import ProviderOut
from gpubroker.domain.search import OfferOut, OfferPage

__all__ = ["GpuList", "Health", "OfferOut", "OfferPage", "ProviderList", "ProviderOut", "Recorded"]


class ProviderList(BaseModel):
    items: list[ProviderOut]


class Health(BaseModel):
    status: str
    service: str


class GpuList(BaseModel):
    items: list[GpuSpec]


class Recorded(BaseModel):
    user_id: str
    offer_id: str
    kind: str
    at: str
