"""WebSocket connections and their subscriptions in DynamoDB. Keys: see gpubroker/domain/subscriptions.py."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from gpubroker.adapters.aws import client, dynamodb_table
from gpubroker.domain.search import OfferFilters
from gpubroker.domain.subscriptions import CONNECTION_TTL_SECONDS, canonical_json, sub_key

BY_SUBSCRIPTION = "by_subscription"


class DynamoConnectionRepository:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamodb_table(self.table_name)

    def connect(self, connection_id: str, *, at: datetime, token: str | None) -> None:
        item: dict[str, Any] = {
            "connection_id": connection_id,
            "connected_at": at.isoformat(),
            "ttl": int(at.timestamp()) + CONNECTION_TTL_SECONDS,
        }
        if token:
            item["token"] = token
        self._table.put_item(Item=item)

    def subscribe(self, connection_id: str, filters: OfferFilters, *, at: datetime) -> None:
        """Replace the connection's subscription (one per connection; the latest wins). The filters are stored as
        their canonical JSON: the broadcaster groups equal filters by it without decoding each one."""
        self._table.update_item(
            Key={"connection_id": connection_id},
            UpdateExpression="SET filters = :f, sub_key = :k, subscribed_at = :a, #ttl = :t",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={
                ":f": canonical_json(filters),
                ":k": sub_key(filters),
                ":a": at.isoformat(),
                ":t": int(at.timestamp()) + CONNECTION_TTL_SECONDS,
            },
        )

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


def _filters_text(value: dict[str, Any]) -> str:
    """The stored filters as JSON: a string since issue 10, a map before (read once more, then rewritten by the
    client's next subscribe)."""
    if "S" in value:
        return str(value["S"])
    from boto3.dynamodb.types import TypeDeserializer

    from gpubroker.adapters.dynamodb import from_item

    plain = from_item({"f": TypeDeserializer().deserialize(value)})["f"]  # type: ignore[arg-type]
    return json.dumps(plain, sort_keys=True, separators=(",", ":"))
