"""WebSocket connections and their subscriptions in DynamoDB. Keys: see gpubroker/domain/subscriptions.py."""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from gpubroker.adapters.aws import client, conditional_check_failed, dynamodb_table
from gpubroker.domain.search import OfferFilters
from gpubroker.domain.subscriptions import (
    CONNECTION_TTL_SECONDS,
    SeenConnection,
    canonical_json,
    epoch_ms,
    sub_key,
)

BY_SUBSCRIPTION = "by_subscription"


class DynamoConnectionRepository:
    def __init__(self, table_name: str, *, segments: int = 1) -> None:
        self.table_name = table_name
        self.segments = segments  # the sweeper's parallel Scan segments

    @property
    def _table(self) -> Any:
        return dynamodb_table(self.table_name)

    def connect(self, connection_id: str, *, at: datetime, user_id: str | None) -> None:
        """The item of a new connection: never the client's token, only the verified user's id."""
        item: dict[str, Any] = {
            "connection_id": connection_id,
            "connected_at": at.isoformat(),
            "last_seen": epoch_ms(at),
            "ttl": int(at.timestamp()) + CONNECTION_TTL_SECONDS,
        }
        if user_id:
            item["user_id"] = user_id
        self._table.put_item(Item=item)

    def subscribe(self, connection_id: str, filters: OfferFilters, *, at: datetime) -> None:
        """Replace the connection's subscription (one per connection; the latest wins). The filters are stored as
        their canonical JSON: the broadcaster groups equal filters by it without decoding each one. A subscribe
        is a message from the client: it records ``last_seen`` too."""
        self._table.update_item(
            Key={"connection_id": connection_id},
            UpdateExpression="SET filters = :f, sub_key = :k, subscribed_at = :a, #ttl = :t, last_seen = :s",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={
                ":f": canonical_json(filters),
                ":k": sub_key(filters),
                ":a": at.isoformat(),
                ":t": int(at.timestamp()) + CONNECTION_TTL_SECONDS,
                ":s": epoch_ms(at),
            },
        )

    def touch(self, connection_id: str, *, at: datetime) -> bool:
        """``last_seen`` = ``at``, only on a stored connection (a ping never creates an item)."""
        try:
            client("dynamodb").update_item(
                TableName=self.table_name,
                Key={"connection_id": {"S": connection_id}},
                UpdateExpression="SET last_seen = :s",
                ConditionExpression="attribute_exists(connection_id)",
                ExpressionAttributeValues={":s": {"N": str(epoch_ms(at))}},
            )
        except Exception as exc:
            if conditional_check_failed(exc):
                return False
            raise
        return True

    def seen_before(self, cutoff: datetime) -> list[SeenConnection]:
        """A Scan of the table, filtered (``last_seen`` before ``cutoff``, or absent) and projected to three small
        attributes, ``segments`` at once. Not an index: ``last_seen`` changes on every ping, and an index keyed on
        it would double each ping's write; a Scan once a minute reads what the pings wrote (docs/decisions.md,
        "The heartbeat and the sweeper")."""
        ddb = client("dynamodb")

        def segment(n: int) -> list[SeenConnection]:
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "ProjectionExpression": "connection_id, last_seen, connected_at",
                "FilterExpression": "attribute_not_exists(last_seen) OR last_seen < :c",
                "ExpressionAttributeValues": {":c": {"N": str(epoch_ms(cutoff))}},
                "Segment": n,
                "TotalSegments": self.segments,
            }
            out: list[SeenConnection] = []
            while True:
                page = ddb.scan(**kwargs)
                out += [_seen(item) for item in page["Items"]]
                if "LastEvaluatedKey" not in page:
                    return out
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

        if self.segments == 1:
            return segment(0)
        with ThreadPoolExecutor(max_workers=self.segments) as pool:
            return [c for part in pool.map(segment, range(self.segments)) for c in part]

    def delete_silent(self, connection_id: str, *, cutoff: datetime) -> bool:
        """Delete the item (its subscription is on it) unless the client was heard from since ``cutoff``: a ping
        that lands between the Scan and this delete keeps its connection."""
        try:
            client("dynamodb").delete_item(
                TableName=self.table_name,
                Key={"connection_id": {"S": connection_id}},
                ConditionExpression="attribute_exists(connection_id) AND "
                "(attribute_not_exists(last_seen) OR last_seen < :c)",
                ExpressionAttributeValues={":c": {"N": str(epoch_ms(cutoff))}},
            )
        except Exception as exc:
            if conditional_check_failed(exc):
                return False
            raise
        return True

    def delete(self, connection_id: str) -> None:
        self._table.delete_item(Key={"connection_id": connection_id})

    def subscribers(self, keys: Iterable[str]) -> list[tuple[str, str]]:
        """Every subscribed connection stored under one of ``keys``: a Query per key on the sparse index, through
        the low-level client (two string attributes per item: no per-item type decoding)."""
        ddb = client("dynamodb")
        out: list[tuple[str, str]] = []
        for key in sorted(set(keys)):
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": BY_SUBSCRIPTION,
                "KeyConditionExpression": "sub_key = :k",
                "ExpressionAttributeValues": {":k": {"S": key}},
                "ProjectionExpression": "connection_id, filters",
            }
            while True:
                page = ddb.query(**kwargs)
                for item in page["Items"]:
                    out.append((item["connection_id"]["S"], _filters_text(item["filters"])))
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return out


def _seen(item: dict[str, Any]) -> SeenConnection:
    last = item.get("last_seen")
    connected = item.get("connected_at")
    return SeenConnection(
        connection_id=str(item["connection_id"]["S"]),
        last_seen_ms=int(last["N"]) if last and "N" in last else None,
        connected_at=_when(connected["S"]) if connected and "S" in connected else None,
    )


def _when(text: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def _filters_text(value: dict[str, Any]) -> str:
    """The stored filters as JSON: a string since issue 10, a map before (read once more, then rewritten by the
    client's next subscribe)."""
    if "S" in value:
        return str(value["S"])
    from boto3.dynamodb.types import TypeDeserializer

    from gpubroker.adapters.dynamodb import from_item

    plain = from_item({"f": TypeDeserializer().deserialize(value)})["f"]  # type: ignore[arg-type]
    return json.dumps(plain, sort_keys=True, separators=(",", ":"))
