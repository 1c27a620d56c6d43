"""The offers table's stream as price changes: which writes subscribers hear about, and when they happened."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBStreamEvent

from gpubroker.domain.subscriptions import PriceChange, price_change

if TYPE_CHECKING:
    from gpubroker.ports import Clock


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
