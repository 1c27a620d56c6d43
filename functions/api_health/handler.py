"""GET /health: liveness of the API (no dependencies touched)."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.api.models import Health
from gpubroker.api.resolver import new_resolver
from gpubroker.config import NoSettings
from gpubroker.observability import logger, metrics, tracer

Settings = NoSettings
app = new_resolver()


@app.get("/health")
def health() -> Health:
    return Health(status="ok", service=os.environ.get("POWERTOOLS_SERVICE_NAME", "gpubroker"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
