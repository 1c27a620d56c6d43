"""WebSocket ``$disconnect``: forget the connection and its subscription."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import ConnectionSettings
from gpubroker.observability import logger, metrics, tracer
from gpubroker.services.connections import close_connection
from gpubroker.wiring.realtime import ConnectionDeps, connection_deps

Settings = ConnectionSettings
ROUTE_KEY = "$disconnect"
Deps = ConnectionDeps


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
    d = deps or connection_deps()
    close_connection(event["requestContext"]["connectionId"], connections=d.connections)
    return {"statusCode": 200}
