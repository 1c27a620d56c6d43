"""Offers table stream -> ``price`` messages to every WebSocket connection whose subscription matches.

Event: a DynamoDB Streams batch (NEW_AND_OLD_IMAGES). ``ts`` of a message is the record's
``ApproximateCreationDateTime`` (when DynamoDB took the write). Gone connections are deleted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.adapters.connections import DynamoConnectionRepository
from gpubroker.adapters.websocket import ApiGatewayConnectionPoster
from gpubroker.config import BroadcastSettings, load_settings
from gpubroker.domain.subscriptions import PriceChange, price_change
from gpubroker.observability import logger, metrics, tracer
from gpubroker.services.prices import ConnectionPoster, ConnectionRepository, broadcast

Settings = BroadcastSettings


@dataclass(frozen=True)
class Deps:
    connections: ConnectionRepository
    poster: ConnectionPoster
    concurrency: int = 16


@cache
def default_deps() -> Deps:
    s = load_settings(BroadcastSettings)
    return Deps(
        connections=DynamoConnectionRepository(s.CONNECTIONS_TABLE),
        poster=ApiGatewayConnectionPoster(s.WEBSOCKET_ENDPOINT, max_connections=s.BROADCAST_CONCURRENCY),
        concurrency=s.BROADCAST_CONCURRENCY,
    )


def changes_of(event: dict[str, Any]) -> list[PriceChange]:
    out: list[PriceChange] = []
    for record in DynamoDBStreamEvent(event).records:
        ddb = record.dynamodb
        if ddb is None:
            continue
        raw_ts = record.raw_event["dynamodb"].get("ApproximateCreationDateTime")
        ts = datetime.fromtimestamp(float(raw_ts), UTC) if raw_ts is not None else datetime.now(UTC)
        change = price_change(ddb.old_image or None, ddb.new_image or None, ts)
        if change is not None:
            out.append(change)
    return out


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
    d = deps or default_deps()
    changes = changes_of(event)
    report = broadcast(changes, connections=d.connections, poster=d.poster, max_workers=d.concurrency)
    metrics.add_metric(name="PriceMessagesSent", unit="Count", value=report.sent)
    metrics.add_metric(name="GoneConnections", unit="Count", value=len(report.gone))
    return asdict(report)
