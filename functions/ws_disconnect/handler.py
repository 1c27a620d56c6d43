"""WebSocket ``$disconnect``: forget the connection and its subscription."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.adapters.connections import DynamoConnectionRepository
from gpubroker.config import ConnectionSettings, load_settings
from gpubroker.observability import logger, metrics, tracer
from gpubroker.services.prices import ConnectionRepository, close_connection

Settings = ConnectionSettings
ROUTE_KEY = "$disconnect"


@dataclass(frozen=True)
class Deps:
    connections: ConnectionRepository


@cache
def default_deps() -> Deps:
    s = load_settings(ConnectionSettings)
    return Deps(connections=DynamoConnectionRepository(s.CONNECTIONS_TABLE))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
    d = deps or default_deps()
    close_connection(event["requestContext"]["connectionId"], connections=d.connections)
    return {"statusCode": 200}
