"""POST /ai/chat and GET/DELETE /ai/conversations/{id} on real events with in-memory ports: the answer's shape,
sizes refused with 422, anonymous and signed-in conversations, and another user's conversation a 404."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gpubroker.domain.accounts import Principal
from gpubroker.domain.chat import MAX_ANSWER_CHARS, MAX_MESSAGE_CHARS
from gpubroker.services.assistant.dialogue import RulesDialogue
from gpubroker.services.offer_math import OfferMathCache
from gpubroker.services.search import SnapshotCache
from gpubroker.wiring.chat import ChatDeps, ConversationDeleteDeps, ConversationDeps
from tests.component.conftest import handler_module
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED, World, trail
from tests.fakes_chat import MemoryConversationStore

CONV = "/ai/conversations/{conversation_id}"


@pytest.fixture
def store() -> MemoryConversationStore:
    return MemoryConversationStore()


@pytest.fixture
def deps(world: World, store: MemoryConversationStore) -> ChatDeps:
    snapshots = SnapshotCache(world.snapshots, ttl_s=600)
    return ChatDeps(conversations=store, snapshots=snapshots, offer_math=OfferMathCache(snapshots.current),
                    offers=world.offers, history=world.history, clock=world.clock, engine=RulesDialogue(),
                    front_door=UNLIMITED, audit=trail())  # fmt: skip


def _as(ev: dict[str, Any], user: str | None) -> dict[str, Any]:
    ev["requestContext"]["authorizer"] = Principal(user_id=user, plan="free").to_context() if user else None
    return ev


def chat(deps: ChatDeps, body: Any, user: str | None = None) -> tuple[int, dict[str, Any]]:
    ev = _as(rest_event("/ai/chat", "/ai/chat"), user)
    ev["httpMethod"] = ev["requestContext"]["httpMethod"] = "POST"
    ev["body"] = body if isinstance(body, str) else json.dumps(body)
    res = handler_module("api_ai_chat").lambda_handler(ev, Ctx(), deps=deps)
    return int(res["statusCode"]), json.loads(res["body"])


def conversation(method: str, store: MemoryConversationStore, cid: str, user: str | None) -> tuple[int, Any]:
    ev = _as(rest_event(CONV, f"/ai/conversations/{cid}", path_params={"conversation_id": cid}), user)
    ev["httpMethod"] = ev["requestContext"]["httpMethod"] = method
    if method == "GET":
        res = handler_module("api_get_conversation").lambda_handler(
            ev, Ctx(), deps=ConversationDeps(conversations=store, front_door=UNLIMITED)
        )
    else:
        res = handler_module("api_delete_conversation").lambda_handler(
            ev, Ctx(), deps=ConversationDeleteDeps(conversations=store, front_door=UNLIMITED, audit=trail())
        )
    return int(res["statusCode"]), json.loads(res["body"])


def test_a_chat_turn_answers_text_cards_follow_ups_and_the_engine(deps: ChatDeps) -> None:
    status, answer = chat(deps, {"message": "Find the cheapest H100 in the EU"}, user="alice")
    assert status == 200, answer
    assert answer["engine"] == "rules" and answer["intent"] == "find" and answer["persisted"] is True
    assert answer["cards"] and answer["follow_up"]
    card = answer["cards"][0]
    assert set(card) >= {"rank", "offer_id", "provider", "gpu", "count", "price_per_hour", "score", "explanation",
                         "booking_link"}  # fmt: skip
    assert card["rank"] == 1 and "H100" in card["gpu"]
    assert card["booking_link"] == f"/bookings?offer_id={card['offer_id']}"
    turn = {"message": "book the first one for 2 hours", "conversation_id": answer["conversation_id"]}
    status, again = chat(deps, turn, user="alice")
    assert status == 200 and again["conversation_id"] == answer["conversation_id"]
    assert again["draft_booking"]["offer_id"] == card["offer_id"] and again["draft_booking"]["placed"] is False


def test_a_workload_on_a_provider_answers_that_providers_cards_or_why_not(deps: ChatDeps) -> None:
    """The web journey's case through the route: the provider restricts the GPUs before the best are picked."""
    message = "Which GPU to fine-tune Llama 3 8B with LoRA on 1M rows on verda?"
    status, answer = chat(deps, {"message": message}, user="alice")
    assert status == 200 and answer["intent"] == "estimate", answer
    assert answer["cards"] and {c["provider"] for c in answer["cards"]} == {"verda"}
    status, none = chat(deps, {"message": "serve Llama 3.1 405B in fp16 on fluidstack"})
    assert status == 200 and none["cards"] == [] and "No GPU offered at fluidstack" in none["text"]
    assert "On any provider" in none["follow_up"]


@pytest.mark.parametrize(
    "body",
    [
        {"message": ""},
        {"message": "x" * (MAX_MESSAGE_CHARS + 1)},
        {},
        {"message": "hi", "conversation_id": "short"},
        {"message": "hi", "conversation_id": "../../etc/passwd-xxxxxxxx"},
        {"message": "hi", "context": {"filters": {"min_price_per_hour": 5, "max_price_per_hour": 1}}},
        {"message": "hi", "context": {"visible_offer_ids": ["NOT AN ID"]}},
        # JSON types, not pydantic's lax coercions (schemathesis sent spot: 0 and got a 200)
        {"message": "hi", "context": {"filters": {"spot": 0}}},
        {"message": "hi", "context": {"filters": {"available": "true"}}},
        {"message": "hi", "context": {"filters": {"min_gpu_count": "2"}}},
        {"message": "hi", "user_id": "bob"},
        {"message": 42},
    ],
)
def test_bad_bodies_are_422(deps: ChatDeps, body: dict[str, Any]) -> None:
    status, answer = chat(deps, body)
    assert status == 422, answer


def test_a_message_of_exactly_the_limit_is_answered_and_the_answer_is_capped(deps: ChatDeps) -> None:
    status, answer = chat(deps, {"message": "find an H100 " + "a" * (MAX_MESSAGE_CHARS - 13)})
    assert status == 200, answer
    assert len(answer["text"]) <= MAX_ANSWER_CHARS


def test_anonymous_chats_continue_but_are_not_readable_through_the_conversation_routes(
    deps: ChatDeps, store: MemoryConversationStore
) -> None:
    status, first = chat(deps, {"message": "find an A100"})
    assert status == 200 and first["persisted"] is False
    cid = first["conversation_id"]
    status, second = chat(deps, {"message": "book the first one for 3 hours", "conversation_id": cid})
    assert second["conversation_id"] == cid and second["draft_booking"]["offer_id"] == first["cards"][0]["offer_id"]
    assert conversation("GET", store, cid, "alice")[0] == 404
    assert conversation("GET", store, cid, None)[0] == 401
    # a signed-in user naming an anonymous (or anyone else's) conversation starts their own
    status, mine = chat(deps, {"message": "book the first one for 3 hours", "conversation_id": cid}, user="alice")
    assert status == 200 and mine["conversation_id"] != cid and mine["draft_booking"] is None


def test_get_and_delete_are_the_callers_own_only(deps: ChatDeps, store: MemoryConversationStore) -> None:
    _, answer = chat(deps, {"message": "find an H100"}, user="alice")
    cid = answer["conversation_id"]
    status, conv = conversation("GET", store, cid, "alice")
    assert status == 200 and [t["role"] for t in conv["turns"]] == ["user", "assistant"]
    assert conv["turns"][1]["cards"] and conv["turns"][0]["text"] == "find an H100"
    assert conversation("GET", store, cid, "bob") == (404, conversation("GET", store, "x" * 22, "bob")[1])
    assert conversation("GET", store, cid, "bob")[1]["error"]["code"] == "conversation_not_found"
    assert conversation("DELETE", store, cid, "bob")[0] == 404
    assert conversation("GET", store, cid, "alice")[0] == 200  # bob's delete removed nothing
    assert conversation("DELETE", store, cid, "alice") == (200, {"conversation_id": cid, "deleted": True})
    assert conversation("GET", store, cid, "alice")[0] == 404
    assert conversation("DELETE", store, cid, "alice")[0] == 404


def test_another_users_conversation_id_in_a_chat_starts_a_new_one(
    deps: ChatDeps, store: MemoryConversationStore
) -> None:
    _, alice = chat(deps, {"message": "find an H100 in the EU"}, user="alice")
    _, bob = chat(deps, {"message": "compare the first two", "conversation_id": alice["conversation_id"]}, user="bob")
    assert bob["conversation_id"] != alice["conversation_id"]
    assert bob["cards"] == []  # bob sees nothing of alice's search
    assert len(store.turns("user:alice", alice["conversation_id"])) == 2


def test_conversation_text_is_not_written_to_the_logs(
    deps: ChatDeps, store: MemoryConversationStore, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "zebra-quokka-7731 find an H100"
    _, answer = chat(deps, {"message": secret}, user="alice")
    conversation("GET", store, answer["conversation_id"], "alice")
    conversation("DELETE", store, answer["conversation_id"], "alice")
    out = capsys.readouterr()
    assert "zebra-quokka" not in out.out + out.err + caplog.text
    assert answer["conversation_id"] not in out.out + out.err + caplog.text  # the anonymous chats' only key
