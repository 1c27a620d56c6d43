"""The assistant's conversation store against moto, on the table template.yaml defines: the TTL attribute set
(30 days signed in, 1 day anonymous), the last 10 turns as the context, owners kept apart, delete; and the
conversation functions on their default wiring."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from gpubroker.adapters import aws
from gpubroker.adapters.conversations import DynamoConversationStore
from gpubroker.domain.accounts import Principal
from gpubroker.domain.chat import ChatContext, ChatRequest, Engine, Turn
from gpubroker.services.assistant.chat import chat, expires_at
from gpubroker.services.assistant.dialogue import Reply, Tools
from tests.conftest import CATALOGS
from tests.events import Ctx, rest_event
from tests.fakes import FixedClock
from tests.integration.conftest import Endpoint, fresh_handler

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("aws")]

NOW = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)


class Echo:
    """An engine that remembers how many turns it was shown (the context window), and counts in its slots."""

    name: Engine = "rules"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def reply(self, message: str, *, history: Sequence[Turn], slots: Mapping[str, Any], context: ChatContext | None,
              tools: Tools, caller: object = None) -> Reply:  # fmt: skip
        self.seen.append(len(history))
        return Reply(text=f"ok {message}", intent="help", slots={"n": int(slots.get("n", 0)) + 1})


@pytest.fixture
def store(endpoint: Endpoint) -> DynamoConversationStore:
    aws.reset()
    return DynamoConversationStore(endpoint.names["ConversationsTable"])


def test_the_table_expires_items_by_their_expires_at(endpoint: Endpoint) -> None:
    ttl = aws.client("dynamodb").describe_time_to_live(TableName=endpoint.names["ConversationsTable"])
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] in ("ENABLED", "ENABLING")


def test_turns_carry_the_ttl_and_the_engine_sees_the_last_ten(store: DynamoConversationStore,
                                                              endpoint: Endpoint) -> None:  # fmt: skip
    engine = Echo()
    cid = None
    for i in range(8):  # 16 turns stored
        answer = chat(ChatRequest(message=f"m{i}", conversation_id=cid), user_id="alice", store=store, engine=engine,
                      tools_for=lambda _u: None, clock=FixedClock(NOW))  # type: ignore[arg-type,return-value]  # fmt: skip
        cid = answer.conversation_id
    assert cid is not None
    assert engine.seen == [0, 2, 4, 6, 8, 10, 10, 10]
    turns = store.turns("user:alice", cid)
    assert [t.seq for t in turns] == list(range(16)) and turns[-1].slots == {"n": 8}
    recent = store.recent("user:alice", cid, 10)
    assert [t.seq for t in recent] == list(range(6, 16)) and recent[0].role == "user"
    items = aws.client("dynamodb").query(
        TableName=endpoint.names["ConversationsTable"], KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"user:alice#{cid}"}},
    )["Items"]  # fmt: skip
    assert len(items) == 16
    assert {int(i["expires_at"]["N"]) for i in items} == {expires_at(NOW, 30)}
    anon = chat(ChatRequest(message="hi"), user_id=None, store=store, engine=engine, tools_for=lambda _u: None,  # type: ignore[arg-type,return-value]
                clock=FixedClock(NOW))  # fmt: skip
    assert store.turns("anon", anon.conversation_id)[0].text == "hi"
    assert anon.persisted is False


def test_owners_are_apart_and_delete_removes_every_turn(store: DynamoConversationStore) -> None:
    cid = uuid.uuid4().hex
    turns = [
        Turn(seq=i, role="user" if i % 2 == 0 else "assistant", text=f"t{i}", at=NOW.isoformat()) for i in range(30)
    ]
    store.append("user:alice", cid, turns, expires_at=expires_at(NOW, 30))
    assert store.turns("user:bob", cid) == [] and store.delete("user:bob", cid) == 0
    assert len(store.turns("user:alice", cid)) == 30
    assert store.delete("user:alice", cid) == 30
    assert store.turns("user:alice", cid) == [] and store.recent("user:alice", cid, 10) == []


def _conversation(method: str, cid: str, user: str) -> tuple[int, dict[str, object]]:
    ev = rest_event("/ai/conversations/{conversation_id}", f"/ai/conversations/{cid}",
                    path_params={"conversation_id": cid})  # fmt: skip
    ev["httpMethod"] = ev["requestContext"]["httpMethod"] = method
    ev["requestContext"]["authorizer"] = Principal(user_id=user).to_context()
    module = "api_get_conversation" if method == "GET" else "api_delete_conversation"
    res = fresh_handler(module).lambda_handler(ev, Ctx())
    return int(res["statusCode"]), json.loads(res["body"])


def test_the_conversation_functions_on_their_default_wiring(store: DynamoConversationStore) -> None:
    cid = uuid.uuid4().hex
    store.append("user:carol", cid, [Turn(seq=0, role="user", text="find an H100", at=NOW.isoformat())],
                 expires_at=expires_at(NOW, 30))  # fmt: skip
    assert _conversation("GET", cid, "dave")[0] == 404
    status, body = _conversation("GET", cid, "carol")
    assert status == 200 and body["turns"][0]["text"] == "find an H100"  # type: ignore[index]
    assert _conversation("DELETE", cid, "dave")[0] == 404
    assert _conversation("DELETE", cid, "carol")[0] == 200
    assert _conversation("GET", cid, "carol")[0] == 404


def test_a_chat_on_the_default_wiring_searches_drafts_and_remembers(endpoint: Endpoint) -> None:
    """POST /ai/chat with no deps passed: the live snapshot in S3 (one catalog ingested), the offers table and
    price history for the history tool, the conversation stored in the template's table and read back."""
    report = fresh_handler("ingest_offers").lambda_handler(
        {"provider": "lambda", "catalog": str(CATALOGS / "lambda" / "vms.csv")}, Ctx()
    )
    assert report["accepted"] > 0

    def say(message: str, cid: str | None) -> dict[str, Any]:
        ev = rest_event("/ai/chat", "/ai/chat")
        ev["httpMethod"] = ev["requestContext"]["httpMethod"] = "POST"
        ev["requestContext"]["authorizer"] = Principal(user_id="erin").to_context()
        ev["body"] = json.dumps({"message": message, **({"conversation_id": cid} if cid else {})})
        res = fresh_handler("api_ai_chat").lambda_handler(ev, Ctx())
        assert res["statusCode"] == 200, res["body"]
        body: dict[str, Any] = json.loads(res["body"])
        return body

    first = say("find an H100 at lambda", None)
    assert first["cards"] and all("H100" in c["gpu"] for c in first["cards"])
    cid = first["conversation_id"]
    history = say("price history of the first one", cid)
    assert history["intent"] == "history" and "price point" in history["text"]
    draft = say("book the first one for 2 hours", cid)
    assert draft["draft_booking"]["offer_id"] == first["cards"][0]["offer_id"] and not draft["draft_booking"]["placed"]
    status, conv = _conversation("GET", cid, "erin")
    assert status == 200 and len(conv["turns"]) == 6  # type: ignore[arg-type]
