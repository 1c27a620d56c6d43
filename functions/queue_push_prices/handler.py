"""Fan-out queue -> WebSocket posts: each SQS message is one chunk of a broadcast (its connections and their
messages, ``services.broadcast.deliver_chunk``). A chunk that fails is reported alone (``batchItemFailures``) and
comes back; after the queue's ``maxReceiveCount`` it lands in the dead-letter queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import PosterSettings
from gpubroker.observability import event_handler, metrics
from gpubroker.services.broadcast import deliver_chunk
from gpubroker.wiring.realtime import FanoutDeps, fanout_deps

Settings = PosterSettings
Deps = FanoutDeps


@event_handler(fanout_deps)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    def record_handler(record: SQSRecord) -> None:
        report = deliver_chunk(
            record.body, poster=deps.poster, connections=deps.connections, clock=deps.clock,
            concurrency=deps.concurrency,
        )  # fmt: skip
        metrics.add_metric(name="PriceMessagesSent", unit="Count", value=report.posts)
        metrics.add_metric(name="GoneConnections", unit="Count", value=len(report.gone))

    return dict(process_partial_response(event, record_handler, BatchProcessor(EventType.SQS), context=context))
