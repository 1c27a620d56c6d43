"""GET /gpus: the GPU catalog (verified specs, each figure with its source)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from gpubroker.adapters.dynamodb import DynamoGpuCatalogRepository
from gpubroker.api.catalog_models import GpuList
from gpubroker.api.resolver import api_handler, new_resolver
from gpubroker.config import CatalogSettings, load_settings
from gpubroker.ports import GpuCatalogRepository
from gpubroker.services.catalog import list_gpus

Settings = CatalogSettings
app = new_resolver()


@dataclass(frozen=True)
class Deps:
    catalog: GpuCatalogRepository


@cache
def default_deps() -> Deps:
    return Deps(catalog=DynamoGpuCatalogRepository(load_settings(CatalogSettings).GPU_CATALOG_TABLE))


@app.get("/gpus")
def gpus() -> GpuList:
    return GpuList(items=list_gpus(catalog=app.context["deps"].catalog))


lambda_handler = api_handler(app, default_deps)
