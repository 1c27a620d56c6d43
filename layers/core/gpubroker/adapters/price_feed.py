"""The price feed in DynamoDB (PriceFeedTable): numbered offer changes kept ``FEED_RETENTION_S`` for replay.
Keys and item shapes: gpubroker/domain/subscriptions.py.

One counter item hands out the numbers (an atomic ``ADD``: consecutive ranges, never reused); each broadcaster
batch is one item keyed by its last number, so "the batch holding n" is one Query (``seq >= n``, first item) and
"everything after n" is a key range. Reads are strongly consistent: a subscribe that stored its subscription
must see every batch put before.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from gpubroker.adapters.aws import dynamodb_table
from gpubroker.domain.subscriptions import FEED_RETENTION_S, FeedEntry, OfferChange

FEED = "prices"
HEAD = {"feed": "prices#head", "seq": 0}
PAGE = 25


class DynamoPriceFeed:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamodb_table(self.table_name)

    def append(self, changes: Sequence[OfferChange], *, at: datetime) -> int:
        got = self._table.update_item(
            Key=HEAD, UpdateExpression="ADD head :n", ExpressionAttributeValues={":n": len(changes)},
            ReturnValues="UPDATED_NEW",
        )  # fmt: skip
        last = int(got["Attributes"]["head"])
        first = last - len(changes) + 1
        entry = FeedEntry(first=first, at=at, changes=tuple(changes))
        self._table.put_item(
            Item={
                "feed": FEED,
                "seq": last,
                "first": first,
                "at": int(at.timestamp() * 1000),
                "changes": entry.encode_changes(),
                "ttl": int(at.timestamp()) + FEED_RETENTION_S + 3600,  # TTL deletes late; reads filter on `at`
            }
        )
        return first

    def head(self) -> int:
        item = self._table.get_item(Key=HEAD, ConsistentRead=True).get("Item")
        return int(item["head"]) if item else 0

    def entry_at(self, seq: int) -> FeedEntry | None:
        from boto3.dynamodb.conditions import Key

        page = self._table.query(
            KeyConditionExpression=Key("feed").eq(FEED) & Key("seq").gte(seq), Limit=1, ConsistentRead=True
        )
        items = page["Items"]
        entry = _entry(items[0]) if items else None
        return entry if entry is not None and entry.first <= seq else None

    def since(self, at: datetime) -> list[FeedEntry]:
        from boto3.dynamodb.conditions import Key

        threshold = int(at.timestamp() * 1000)
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("feed").eq(FEED),
            "ScanIndexForward": False,
            "ConsistentRead": True,
            "Limit": PAGE,
        }
        out: list[FeedEntry] = []
        while True:
            page = self._table.query(**kwargs)
            for item in page["Items"]:
                if int(item["at"]) < threshold:
                    return out[::-1]
                out.append(_entry(item))
            if "LastEvaluatedKey" not in page:
                return out[::-1]
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def after(self, seq: int) -> list[FeedEntry]:
        from boto3.dynamodb.conditions import Key

        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("feed").eq(FEED) & Key("seq").gt(seq),
            "ConsistentRead": True,
        }
        out: list[FeedEntry] = []
        while True:
            page = self._table.query(**kwargs)
            out += [_entry(item) for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _entry(item: dict[str, Any]) -> FeedEntry:
    data = item["changes"]
    raw = data.value if hasattr(data, "value") else bytes(data)
    return FeedEntry(
        first=int(item["first"]),
        at=datetime.fromtimestamp(int(item["at"]) / 1000, UTC),
        changes=FeedEntry.decode_changes(raw),
    )
