"""WebSocket ``$connect``: store the connection (anonymous accepted; a ``token`` query parameter is stored)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.adapters.clock import SystemClock
from gpubroker.adapters.connections import DynamoConnectionRepository
from gpubroker.config import ConnectionSettings, load_settings
from gpubroker.observability import logger, metrics, tracer
from gpubroker.ports import Clock
from gpubroker.services.prices import ConnectionRepository, open_connection

Settings = ConnectionSettings
ROUTE_KEY = "$connect"


@dataclass(frozen=True)
class Deps:
    connections: ConnectionRepository
    clock: Clock


@cache
def default_deps() -> Deps:
    s = load_settings(ConnectionSettings)
    return Deps(connections=DynamoConnectionRepository(s.CONNECTIONS_TABLE), clock=SystemClock())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
    d = deps or default_deps()
    query = event.get("queryStringParameters") or {}
    token = query.get("token") or None
    open_connection(event["requestContext"]["connectionId"], token, connections=d.connections, clock=d.clock)
    metrics.add_metric(name="WebSocketConnected", unit="Count", value=1)
    return {"statusCode": 200}
