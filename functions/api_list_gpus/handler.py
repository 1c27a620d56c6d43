"""GET /gpus: the GPU catalog (verified specs, each figure with its source)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from gpubroker.adapters.dynamodb import DynamoGpuCatalogRepository
from gpubroker.api.resolver import new_resolver
from gpubroker.config import CatalogSettings, load_settings
from gpubroker.domain.gpus import GpuSpec
from gpubroker.observability import logger, metrics, tracer
from gpubroker.ports import GpuCatalogRepository
from gpubroker.services.catalog import list_gpus

Settings = CatalogSettings
app = new_resolver()


class GpuList(BaseModel):
    items: list[GpuSpec]


@dataclass(frozen=True)
class Deps:
    catalog: GpuCatalogRepository


@cache
def default_deps() -> Deps:
    return Deps(catalog=DynamoGpuCatalogRepository(load_settings(CatalogSettings).GPU_CATALOG_TABLE))


@app.get("/gpus")
def gpus() -> GpuList:
    return GpuList(items=list_gpus(catalog=app.context["deps"].catalog))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
    app.append_context(deps=deps or default_deps())
    return app.resolve(event, context)
