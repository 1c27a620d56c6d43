"""WebSocket ``$disconnect``: forget the connection and its subscription."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import ConnectionSettings
from gpubroker.observability import event_handler
from gpubroker.services.connections import close_connection
from gpubroker.wiring.realtime import ConnectionDeps, connection_deps

Settings = ConnectionSettings
ROUTE_KEY = "$disconnect"
Deps = ConnectionDeps


@event_handler(connection_deps, correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    close_connection(event["requestContext"]["connectionId"], connections=deps.connections)
    return {"statusCode": 200}
