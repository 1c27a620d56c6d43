"""WebSocket ``subscribe``: validate the filters as ``GET /offers`` does and store them, then post the replies to
the connection in order - ``subscribed``, then the replay since ``resume_from`` or the snapshot pages and the
changes since the snapshot (or one ``error`` message). The route has no route response: every reply is posted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.api.ws_frames import message_refusal
from gpubroker.config import SubscribeSettings
from gpubroker.observability import event_handler, logger, metrics
from gpubroker.services import search  # noqa: F401 - the snapshot search (NumPy) loads at cold start, not mid-request
from gpubroker.services.subscriptions import refuse, subscribe
from gpubroker.wiring.realtime import SubscribeDeps, subscribe_deps

Settings = SubscribeSettings
ROUTE_KEY = "subscribe"
Deps = SubscribeDeps


@event_handler(subscribe_deps, correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    refusal = message_refusal(event)  # past the message bounds: refused before anything parses it
    report = (
        refuse(connection_id, refusal, poster=deps.poster)
        if refusal is not None
        else subscribe(
            connection_id,
            event.get("body"),
            connections=deps.connections,
            feed=deps.feed,
            snapshots=deps.snapshots,
            poster=deps.poster,
            clock=deps.clock,
        )
    )
    logger.info("subscribe", extra=asdict(report))
    metrics.add_metric(name=f"Subscribe_{report.mode}", unit="Count", value=1)
    return {"statusCode": 200}
