"""Assistant conversations in DynamoDB (``ConversationsTable``): PK ``pk`` = ``<owner>#<conversation id>``, SK
``seq`` (the turn's number); each item one turn (role, text, cards and slots as JSON) with ``expires_at`` (epoch
seconds, the table's TTL attribute). The owner is part of the key, so one owner's query never reaches another's
turns. The last turns are one Query read backwards; a delete is a Query of the keys and a batch delete.

Nothing here logs: a turn's text is the user's words."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gpubroker.adapters.aws import dynamodb_table
from gpubroker.domain.chat import Turn


def _pk(owner: str, conversation_id: str) -> str:
    return f"{owner}#{conversation_id}"


def _turn(item: dict[str, Any]) -> Turn:
    return Turn(
        seq=int(item["seq"]),
        role=item["role"],
        text=str(item.get("text", "")),
        cards=json.loads(item.get("cards") or "[]"),
        slots=json.loads(item.get("slots") or "{}"),
        at=str(item.get("at", "")),
    )


class DynamoConversationStore:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _table(self) -> Any:
        return dynamodb_table(self.table_name)

    def _query(self, owner: str, conversation_id: str, **extra: Any) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key

        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(_pk(owner, conversation_id)), **extra}
        items: list[dict[str, Any]] = []
        while True:
            page = self._table.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page or "Limit" in extra:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def recent(self, owner: str, conversation_id: str, limit: int) -> list[Turn]:
        items = self._query(owner, conversation_id, ScanIndexForward=False, Limit=limit)
        return [_turn(i) for i in reversed(items)]

    def turns(self, owner: str, conversation_id: str) -> list[Turn]:
        return [_turn(i) for i in self._query(owner, conversation_id)]

    def append(self, owner: str, conversation_id: str, turns: Sequence[Turn], *, expires_at: int) -> None:
        pk = _pk(owner, conversation_id)
        with self._table.batch_writer() as batch:
            for t in turns:
                batch.put_item(
                    Item={
                        "pk": pk,
                        "seq": t.seq,
                        "role": t.role,
                        "text": t.text,
                        "cards": json.dumps([c.model_dump(mode="json") for c in t.cards], separators=(",", ":")),
                        "slots": json.dumps(t.slots, separators=(",", ":"), default=str),
                        "at": t.at,
                        "expires_at": expires_at,
                    }
                )

    def delete(self, owner: str, conversation_id: str) -> int:
        keys = self._query(owner, conversation_id, ProjectionExpression="pk, seq")
        with self._table.batch_writer() as batch:
            for k in keys:
                batch.delete_item(Key={"pk": k["pk"], "seq": k["seq"]})
        return len(keys)
