"""Offers table stream -> numbered changes in the price feed -> ``price``/``removed`` messages to every WebSocket
connection whose subscription the old or the new offer matches; posted here for up to ``FANOUT_DIRECT_LIMIT``
connections, else queued in chunks for the fan-out workers (queue_push_prices).

Event: a DynamoDB Streams batch (NEW_AND_OLD_IMAGES). ``ts`` of a message is the record's
``ApproximateCreationDateTime`` (when DynamoDB took the write). Gone connections are deleted.

Failures (``FunctionResponseTypes: [ReportBatchItemFailures]``, ``BisectBatchOnFunctionError``, an ``OnFailure``
destination): the records before the first unreadable one are broadcast and that record's sequence number is
returned in ``batchItemFailures`` (Lambda retries from it); when it is the batch's first record the function raises
``UnreadableStreamRecord`` instead, so Lambda bisects the batch until the record is alone and, after its retries,
sends its batch info to LivePricesDeadLetterQueue. Any other failure (the feed, the connections, the fan-out
queue) raises: the whole batch is retried, bisected, and never dropped without a trace.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import BroadcastSettings
from gpubroker.observability import event_handler, metrics
from gpubroker.services import search  # noqa: F401 - the column-wise plan of large batches (NumPy), at cold start
from gpubroker.services.broadcast import UnreadableStreamRecord, broadcast, read_stream
from gpubroker.wiring.realtime import BroadcastDeps, broadcast_deps

Settings = BroadcastSettings
Deps = BroadcastDeps


@event_handler(broadcast_deps)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    batch = read_stream(event, clock=deps.clock)
    if batch.failed:
        metrics.add_metric(name="UnreadableStreamRecords", unit="Count", value=1)
    if batch.failed and (batch.failed_index == 0 or batch.failed_at is None):
        raise UnreadableStreamRecord(f"record {batch.failed_at} of {len(event.get('Records') or [])}: {batch.reason}")
    report = broadcast(
        batch.changes,
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
    return {**asdict(report), "batchItemFailures": batch.batch_item_failures()}
