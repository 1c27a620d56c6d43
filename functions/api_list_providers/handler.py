"""GET /providers: every provider GPUBroker knows, with its offer counts and freshness."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.adapters.s3_snapshots import S3SnapshotStore
from gpubroker.api.models import ProviderList
from gpubroker.api.resolver import new_resolver, responses
from gpubroker.config import SnapshotSettings, load_settings
from gpubroker.observability import logger, metrics, tracer
from gpubroker.ports import SnapshotReader
from gpubroker.services.catalog import list_providers

Settings = SnapshotSettings
app = new_resolver()


@dataclass(frozen=True)
class Deps:
    snapshots: SnapshotReader


@cache
def default_deps() -> Deps:
    return Deps(snapshots=S3SnapshotStore(load_settings(SnapshotSettings).SNAPSHOT_BUCKET))


@app.get("/providers", responses=responses(ProviderList, 503))
def providers() -> ProviderList:
    return ProviderList.model_validate({"items": list_providers(snapshots=app.context["deps"].snapshots)})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
    app.append_context(deps=deps or default_deps())
    return app.resolve(event, context)
