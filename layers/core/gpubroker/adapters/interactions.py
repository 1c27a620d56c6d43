"""Interactions in DynamoDB: PK ``user_id``, SK ``offer_id``; one item per pair with a counter per kind
(``view``, ``save``, ``book``) updated atomically with ADD, and ``last_at``. A user's history is one Query;
training reads everything with a paginated Scan (a scheduled job, never a request path)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from gpubroker.adapters.aws import dynamodb_table

KINDS = ("view", "save", "book")


def _counts(item: dict[str, Any]) -> dict[str, int]:
    return {k: int(item.get(k, 0)) for k in KINDS}


class DynamoInteractionRepository:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamodb_table(self.table_name)

    def record(self, user_id: str, offer_id: str, kind: str, at: datetime) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown interaction kind {kind!r}")
        self._table.update_item(
            Key={"user_id": user_id, "offer_id": offer_id},
            UpdateExpression="ADD #k :one SET last_at = :at",
            ExpressionAttributeNames={"#k": kind},
            ExpressionAttributeValues={":one": 1, ":at": at.isoformat()},
        )

    def history(self, user_id: str) -> dict[str, dict[str, int]]:
        from boto3.dynamodb.conditions import Key

        out: dict[str, dict[str, int]] = {}
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("user_id").eq(user_id)}
        while True:
            page = self._table.query(**kwargs)
            out.update({i["offer_id"]: _counts(i) for i in page["Items"]})
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def scan_all(self) -> Iterator[tuple[str, str, dict[str, int]]]:
        kwargs: dict[str, Any] = {}
        while True:
            page = self._table.scan(**kwargs)
            for i in page["Items"]:
                yield i["user_id"], i["offer_id"], _counts(i)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
