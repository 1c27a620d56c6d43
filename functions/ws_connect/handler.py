"""WebSocket ``$connect``: store the connection (anonymous accepted; a ``token`` query parameter is stored)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import ConnectionSettings
from gpubroker.observability import event_handler, metrics
from gpubroker.services.connections import open_connection
from gpubroker.wiring.realtime import ConnectionDeps, connection_deps

Settings = ConnectionSettings
ROUTE_KEY = "$connect"
Deps = ConnectionDeps


@event_handler(connection_deps, correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    query = event.get("queryStringParameters") or {}
    token = query.get("token") or None
    open_connection(event["requestContext"]["connectionId"], token, connections=deps.connections, clock=deps.clock)
    metrics.add_metric(name="WebSocketConnected", unit="Count", value=1)
    return {"statusCode": 200}
