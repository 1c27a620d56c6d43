"""GET /gpus: the GPU catalog (verified specs, each figure with its source)."""

from __future__ import annotations

from gpubroker.api.catalog_models import GpuList
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import CatalogSettings
from gpubroker.services.catalog import list_gpus
from gpubroker.wiring.offers import CatalogDeps, catalog_deps

Settings = CatalogSettings
Deps = CatalogDeps
app = new_resolver()


@app.get("/gpus", responses=responses(GpuList))
def gpus() -> GpuList:
    return GpuList(items=list_gpus(catalog=app.context["deps"].catalog))


lambda_handler = api_handler(app, catalog_deps)
