"""The price broadcaster: the offers table's stream as price changes (which writes subscribers hear about, and
when they happened), fanned out to every WebSocket connection whose subscription matches."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBStreamEvent

from gpubroker.domain.subscriptions import PriceChange, candidate_keys, matches, price_change, price_message

if TYPE_CHECKING:
    from gpubroker.ports import Clock, ConnectionPoster, ConnectionRepository


def stream_price_changes(event: Mapping[str, Any], *, clock: Clock) -> list[PriceChange]:
    """The price changes in a DynamoDB Streams batch (NEW_AND_OLD_IMAGES), in order. A change's ``ts`` is the
    record's ``ApproximateCreationDateTime`` (when DynamoDB took the write), else ``clock``'s now."""
    out: list[PriceChange] = []
    for record in DynamoDBStreamEvent(dict(event)).records:
        ddb = record.dynamodb
        if ddb is None:
            continue
        raw_ts = record.raw_event["dynamodb"].get("ApproximateCreationDateTime")
        ts = datetime.fromtimestamp(float(raw_ts), UTC) if raw_ts is not None else clock.now()
        change = price_change(ddb.old_image or None, ddb.new_image or None, ts)
        if change is not None:
            out.append(change)
    return out


@dataclass
class BroadcastReport:
    changes: int = 0
    subscribers: int = 0
    sent: int = 0
    gone: list[str] = field(default_factory=list)


def broadcast(
    changes: Sequence[PriceChange],
    *,
    connections: ConnectionRepository,
    poster: ConnectionPoster,
    max_workers: int = 16,
) -> BroadcastReport:
    """Post each change to every connection whose filter matches it, in the order of ``changes`` per connection.

    Connections are served concurrently (one task per connection keeps its messages in order); a connection the
    management API reports gone is deleted and gets nothing more.
    """
    report = BroadcastReport(changes=len(changes))
    if not changes:
        return report
    keys: set[str] = set()
    for change in changes:
        keys |= candidate_keys(change)
    outbox: dict[str, list[bytes]] = {}
    for connection_id, filters in connections.subscribers(keys):
        if connection_id in outbox:
            continue
        messages = [json.dumps(price_message(c)).encode() for c in changes if matches(filters, c)]
        if messages:
            outbox[connection_id] = messages
    report.subscribers = len(outbox)

    def deliver(item: tuple[str, list[bytes]]) -> tuple[str, int, bool]:
        connection_id, messages = item
        for n, data in enumerate(messages):
            if not poster.post(connection_id, data):
                return connection_id, n, False
        return connection_id, len(messages), True

    if len(outbox) <= 1:
        results = [deliver(item) for item in outbox.items()]
    else:
        with ThreadPoolExecutor(max_workers=min(max_workers, len(outbox))) as pool:
            results = list(pool.map(deliver, outbox.items()))
    for connection_id, sent, alive in results:
        report.sent += sent
        if not alive:
            connections.delete(connection_id)
            report.gone.append(connection_id)
    return report
