"""GET /gpus/{model}: one GPU model by canonical id or any known spelling."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import CatalogSettings
from gpubroker.domain.gpus import GpuSpec
from gpubroker.services.catalog import get_gpu
from gpubroker.wiring.offers import CatalogDeps, catalog_deps

Settings = CatalogSettings
Deps = CatalogDeps
app = new_resolver()


@app.get("/gpus/<model>", responses=responses(GpuSpec, 404))
def gpu(model: Annotated[str, Path(min_length=1, max_length=64)]) -> GpuSpec:
    return get_gpu(model, catalog=app.context["deps"].catalog)


lambda_handler = api_handler(app, catalog_deps)
