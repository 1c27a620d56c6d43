"""WebSocket ``ping`` (clients send one every 30 s): records ``last_seen`` and replies ``{"type": "pong", "ts"}``
(or ``error`` ``not_connected`` on a connection the sweeper removed)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.api.ws_frames import message_refusal
from gpubroker.config import ConnectionSettings
from gpubroker.observability import event_handler
from gpubroker.services.connections import ping
from gpubroker.wiring.realtime import PingDeps, ping_deps

Settings = ConnectionSettings
ROUTE_KEY = "ping"
Deps = PingDeps


@event_handler(ping_deps, correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    refusal = message_refusal(event)  # past the message bounds: an error reply, as every route gives
    if refusal is not None:
        return {"statusCode": 200, "body": refusal.model_dump_json(exclude_none=True)}
    reply = ping(event["requestContext"]["connectionId"], connections=deps.connections, clock=deps.clock)
    return {"statusCode": 200, "body": reply.model_dump_json(exclude_none=True)}
