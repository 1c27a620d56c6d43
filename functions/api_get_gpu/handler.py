"""GET /gpus/{model}: one GPU model by canonical id or any known spelling."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.adapters.dynamodb import DynamoGpuCatalogRepository
from gpubroker.api.resolver import new_resolver, responses
from gpubroker.config import CatalogSettings, load_settings
from gpubroker.domain.gpus import GpuSpec
from gpubroker.observability import logger, metrics, tracer
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


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
    app.append_context(deps=deps or default_deps())
    return app.resolve(event, context)
