"""POST /ai/chat with the engine the environment names (``ASSISTANT_ENGINE``, ``wiring.chat.dialogue_engine``) on
real events and in-memory ports: rules by default; bedrock (its boto3 client under botocore's Stubber) for a
signed-in caller, with the same breaker and budget as the parse route; an anonymous caller gets the rules dialogue
with ``fallback: anonymous``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from gpubroker.domain.accounts import Principal
from gpubroker.services.assistant.chat_llm import LlmDialogue
from gpubroker.services.assistant.dialogue import DialogueEngine, RulesDialogue
from gpubroker.services.offer_math import OfferMathCache
from gpubroker.services.search import SnapshotCache
from gpubroker.wiring.assistant_llm import parse_deps
from gpubroker.wiring.chat import ChatDeps, dialogue_engine
from tests.component.conftest import handler_module
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED, World, trail
from tests.fakes_chat import MemoryConversationStore
from tests.llm_fakes import converse_text, converse_tool_uses


@pytest.fixture(autouse=True)
def no_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "")


def post(world: World, engine: DialogueEngine, body: dict[str, Any], user: str | None) -> tuple[int, dict[str, Any]]:
    snapshots = SnapshotCache(world.snapshots, ttl_s=600)
    deps = ChatDeps(conversations=MemoryConversationStore(), snapshots=snapshots,
                    offer_math=OfferMathCache(snapshots.current), offers=world.offers, history=world.history,
                    clock=world.clock, engine=engine, front_door=UNLIMITED, audit=trail())  # fmt: skip
    ev = rest_event("/ai/chat", "/ai/chat")
    ev["httpMethod"] = ev["requestContext"]["httpMethod"] = "POST"
    ev["requestContext"]["authorizer"] = Principal(user_id=user, plan="pro").to_context() if user else None
    ev["body"] = json.dumps(body)
    res = handler_module("api_ai_chat").lambda_handler(ev, Ctx(), deps=deps)
    return int(res["statusCode"]), json.loads(res["body"])


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LlmDialogue, Stubber]]:
    monkeypatch.setenv("ASSISTANT_ENGINE", "bedrock")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    engine = dialogue_engine()
    assert isinstance(engine, LlmDialogue) and engine.name == "bedrock"
    client = engine.llm.model.client(engine.llm.timeout_s)  # type: ignore[attr-defined]
    with Stubber(client) as stub:
        yield engine, stub


def test_rules_is_the_default(monkeypatch: pytest.MonkeyPatch, world: World) -> None:
    monkeypatch.delenv("ASSISTANT_ENGINE", raising=False)
    engine = dialogue_engine()
    assert isinstance(engine, RulesDialogue)
    status, answer = post(world, engine, {"message": "find an H100"}, "alice")
    assert status == 200 and (answer["engine"], answer["fallback"]) == ("rules", None)


def test_bedrock_answers_a_signed_in_caller(bedrock: tuple[LlmDialogue, Stubber], world: World) -> None:
    engine, stub = bedrock
    assert engine.llm is parse_deps().llm  # one breaker and one budget for the parse route and the chat
    stub.add_response("converse", converse_tool_uses(("search_offers", {"filters": {"gpu": ["H100"]}})))
    stub.add_response("converse", converse_text("The best **H100** offers:"))
    status, answer = post(world, engine, {"message": "find an H100"}, "alice")
    assert status == 200, answer
    assert (answer["engine"], answer["fallback"], answer["intent"]) == ("bedrock", None, "find")
    assert answer["text"] == "The best **H100** offers:" and answer["cards"] and answer["persisted"] is True
    stub.assert_no_pending_responses()


def test_anonymous_callers_get_the_rules_dialogue(bedrock: tuple[LlmDialogue, Stubber], world: World) -> None:
    engine, _ = bedrock
    status, answer = post(world, engine, {"message": "find an H100"}, None)
    assert status == 200 and (answer["engine"], answer["fallback"]) == ("rules", "anonymous") and answer["cards"]


def test_a_failing_model_still_answers(bedrock: tuple[LlmDialogue, Stubber], world: World) -> None:
    engine, stub = bedrock
    stub.add_client_error("converse", service_error_code="ServiceUnavailableException", http_status_code=503)
    status, answer = post(world, engine, {"message": "find an H100"}, "alice")
    assert status == 200 and (answer["engine"], answer["fallback"]) == ("rules", "error") and answer["cards"]
