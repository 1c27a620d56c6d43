"""WebSocket ``$default``: a message no route takes (not JSON, no known ``action``, or past the message bounds)
gets one ``error`` reply with a machine-readable code, through the route response; the connection stays open."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.api.ws_frames import message_refusal
from gpubroker.config import NoSettings
from gpubroker.observability import event_handler, metrics
from gpubroker.services.connections import unrouted
from gpubroker.wiring.realtime import DefaultRouteDeps, default_route_deps

Settings = NoSettings
ROUTE_KEY = "$default"
Deps = DefaultRouteDeps


@event_handler(default_route_deps, correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    reply = message_refusal(event) or unrouted(event.get("body"))
    metrics.add_metric(name="WebSocketMessageRefused", unit="Count", value=1)
    return {"statusCode": 200, "body": reply.model_dump_json(exclude_none=True)}
