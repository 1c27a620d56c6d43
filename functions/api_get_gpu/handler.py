"""GET /gpus/{model}: one GPU model by canonical id or any known spelling."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from gpubroker.adapters.dynamodb import DynamoGpuCatalogRepository
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import CatalogSettings, load_settings
from gpubroker.domain.gpus import GpuSpec
from gpubroker.ports import GpuCatalogRepository
from gpubroker.services.catalog import get_gpu

Settings = CatalogSettings
app = new_resolver()


@dataclass(frozen=True)
class Deps:
    catalog: GpuCatalogRepository


@cache
def default_deps() -> Deps:
    return Deps(catalog=DynamoGpuCatalogRepository(load_settings(CatalogSettings).GPU_CATALOG_TABLE))


@app.get("/gpus/<model>", responses=responses(GpuSpec, 404))
def gpu(model: Annotated[str, Path(min_length=1, max_length=64)]) -> GpuSpec:
    return get_gpu(model, catalog=app.context["deps"].catalog)


lambda_handler = api_handler(app, default_deps)
