"""Offers table stream -> numbered changes in the price feed -> ``price``/``removed`` messages to every WebSocket
connection whose subscription the old or the new offer matches; posted here for up to ``FANOUT_DIRECT_LIMIT``
connections, else queued in chunks for the fan-out workers (queue_push_prices).

Event: a DynamoDB Streams batch (NEW_AND_OLD_IMAGES). ``ts`` of a message is the record's
``ApproximateCreationDateTime`` (when DynamoDB took the write). Gone connections are deleted.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import BroadcastSettings
from gpubroker.observability import event_handler, metrics
from gpubroker.services import search  # noqa: F401 - the column-wise plan of large batches (NumPy), at cold start
from gpubroker.services.broadcast import broadcast, stream_changes
from gpubroker.wiring.realtime import BroadcastDeps, broadcast_deps

Settings = BroadcastSettings
Deps = BroadcastDeps


@event_handler(broadcast_deps)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    report = broadcast(
        stream_changes(event, clock=deps.clock),
        feed=deps.feed,
        connections=deps.connections,
        poster=deps.poster,
        fanout=deps.fanout,
        clock=deps.clock,
        concurrency=deps.concurrency,
        direct_limit=deps.direct_limit,
        chunk_size=deps.chunk_size,
    )
    metrics.add_metric(name="PriceMessagesSent", unit="Count", value=report.sent)
    metrics.add_metric(name="FanoutChunks", unit="Count", value=report.chunks)
    metrics.add_metric(name="GoneConnections", unit="Count", value=len(report.gone))
    return asdict(report)
