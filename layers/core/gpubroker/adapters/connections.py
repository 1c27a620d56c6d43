"""WebSocket connections and their subscriptions in DynamoDB. Keys: see gpubroker/domain/subscriptions.py."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from gpubroker.adapters.aws import dynamodb_table
from gpubroker.adapters.dynamodb import from_item, to_item
from gpubroker.domain.subscriptions import CONNECTION_TTL_SECONDS, SubscriptionFilters, sub_key

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

    def subscribe(self, connection_id: str, filters: SubscriptionFilters, *, at: datetime) -> None:
        """Replace the connection's subscription (one per connection; the latest wins)."""
        self._table.update_item(
            Key={"connection_id": connection_id},
            UpdateExpression="SET filters = :f, sub_key = :k, subscribed_at = :a, #ttl = :t",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={
                ":f": to_item(filters.model_dump(exclude_none=True)),
                ":k": sub_key(filters),
                ":a": at.isoformat(),
                ":t": int(at.timestamp()) + CONNECTION_TTL_SECONDS,
            },
        )

    def delete(self, connection_id: str) -> None:
        self._table.delete_item(Key={"connection_id": connection_id})

    def subscribers(self, keys: Iterable[str]) -> list[tuple[str, SubscriptionFilters]]:
        """Every subscribed connection stored under one of ``keys`` (a Query per key on the sparse index)."""
        from boto3.dynamodb.conditions import Key

        out: list[tuple[str, SubscriptionFilters]] = []
        for key in sorted(set(keys)):
            kwargs: dict[str, Any] = {
                "IndexName": BY_SUBSCRIPTION,
                "KeyConditionExpression": Key("sub_key").eq(key),
                "ProjectionExpression": "connection_id, filters",
            }
            while True:
                page = self._table.query(**kwargs)
                for item in page["Items"]:
                    data = from_item(item)
                    out.append((str(data["connection_id"]), SubscriptionFilters.model_validate(data["filters"])))
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return out
