"""Offers table stream -> ``price`` messages to every WebSocket connection whose subscription matches.

Event: a DynamoDB Streams batch (NEW_AND_OLD_IMAGES). ``ts`` of a message is the record's
``ApproximateCreationDateTime`` (when DynamoDB took the write). Gone connections are deleted.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import BroadcastSettings
from gpubroker.observability import logger, metrics, tracer
from gpubroker.services.broadcast import broadcast, stream_price_changes
from gpubroker.wiring.realtime import BroadcastDeps, broadcast_deps

Settings = BroadcastSettings
Deps = BroadcastDeps


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
    d = deps or broadcast_deps()
    changes = stream_price_changes(event, clock=d.clock)
    report = broadcast(changes, connections=d.connections, poster=d.poster, max_workers=d.concurrency)
    metrics.add_metric(name="PriceMessagesSent", unit="Count", value=report.sent)
    metrics.add_metric(name="GoneConnections", unit="Count", value=len(report.gone))
    return asdict(report)
