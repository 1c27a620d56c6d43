"""WebSocket ``subscribe``: validate the filters and store them; replies ``subscribed`` or an ``error`` message."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import SubscribeSettings
from gpubroker.observability import event_handler
from gpubroker.services.connections import subscribe
from gpubroker.wiring.realtime import SubscribeDeps, subscribe_deps

Settings = SubscribeSettings
ROUTE_KEY = "subscribe"
Deps = SubscribeDeps


@event_handler(subscribe_deps, correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    reply = subscribe(connection_id, event.get("body"), connections=deps.connections, clock=deps.clock,
                      registry=deps.snapshots)  # fmt: skip
    # a message-level protocol: an invalid subscription is an ``error`` message, not a failed integration
    return {"statusCode": 200, "body": json.dumps(reply.model_dump(exclude_none=True))}
