"""Offers table stream -> ``price`` messages to every WebSocket connection whose subscription matches.

Event: a DynamoDB Streams batch (NEW_AND_OLD_IMAGES). ``ts`` of a message is the record's
``ApproximateCreationDateTime`` (when DynamoDB took the write). Gone connections are deleted.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import BroadcastSettings
from gpubroker.observability import event_handler, metrics
from gpubroker.services.broadcast import broadcast, stream_price_changes
from gpubroker.wiring.realtime import BroadcastDeps, broadcast_deps

Settings = BroadcastSettings
Deps = BroadcastDeps


@event_handler(broadcast_deps)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    changes = stream_price_changes(event, clock=deps.clock)
    report = broadcast(changes, connections=deps.connections, poster=deps.poster, max_workers=deps.concurrency)
    metrics.add_metric(name="PriceMessagesSent", unit="Count", value=report.sent)
    metrics.add_metric(name="GoneConnections", unit="Count", value=len(report.gone))
    return asdict(report)
