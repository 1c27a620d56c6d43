"""Response models of the catalog routes: GET /gpus and GET /providers."""

from __future__ import annotations

from pydantic import BaseModel

from gpubroker.domain.gpus import GpuSpec
from gpubroker.domain.providers import ProviderOut


class GpuList(BaseModel):
    items: list[GpuSpec]


class ProviderList(BaseModel):
    items: list[ProviderOut]
