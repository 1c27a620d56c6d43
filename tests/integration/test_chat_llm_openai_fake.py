"""The chat's tool-use loop through the OpenAI-compatible adapter against a local fake server on 127.0.0.1
(tests/llm_fakes.py): several tool calls in one answer, the ``role: tool`` messages sent back, the answer's
engine; a server that hangs (the rules dialogue answers with ``fallback: timeout``) and one that fails."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gpubroker.adapters.breaker import MemoryCircuitBreaker
from gpubroker.adapters.llm.budget import MemoryLlmBudget
from gpubroker.adapters.llm.openai_compat import OpenAICompatibleModel
from gpubroker.api.chat_tools import ChatTools
from gpubroker.domain.chat import ChatRequest
from gpubroker.domain.plans import Plan
from gpubroker.services.assistant.chat import chat
from gpubroker.services.assistant.chat_llm import LlmDialogue
from gpubroker.services.assistant.llm_engine import LlmEngine
from gpubroker.services.offer_math import OfferMathCache
from gpubroker.services.search import SnapshotCache
from tests.component.conftest import seeded_world
from tests.fakes import World
from tests.fakes_chat import MemoryConversationStore
from tests.llm_fakes import FakeOpenAI, fake_openai, text_answer, tool_calls_answer


@pytest.fixture(scope="module")
def world() -> World:
    return seeded_world()


@pytest.fixture
def openai() -> Iterator[FakeOpenAI]:
    with fake_openai() as fake:
        yield fake


def ask(world: World, fake: FakeOpenAI, message: str, *, timeout_s: float = 5.0, user: str | None = "alice",
        store: MemoryConversationStore | None = None, cid: str | None = None) -> Any:  # fmt: skip
    llm = LlmEngine(model=OpenAICompatibleModel(fake.url, "mistral"), breaker=MemoryCircuitBreaker("llm"),
                    budget=MemoryLlmBudget(), timeout_s=timeout_s)  # fmt: skip
    snapshots = SnapshotCache(world.snapshots, ttl_s=600)

    def bind(user_id: str | None) -> ChatTools:
        return ChatTools(snapshots=snapshots, offer_math=OfferMathCache(snapshots.current).get, offers=world.offers,
                         history=world.history, user_id=user_id)  # fmt: skip

    return chat(ChatRequest(message=message, conversation_id=cid), user_id=user, plan=Plan.PRO,
                store=store or MemoryConversationStore(), engine=LlmDialogue(llm), tools_for=bind,
                clock=world.clock)  # fmt: skip


def test_tool_calls_in_one_answer_then_text(world: World, openai: FakeOpenAI) -> None:
    openai.script = [
        tool_calls_answer(("search_offers", {"filters": {"gpu": ["A100"]}}), ("recommend", {"preset": "best-value"})),
        text_answer("The best A100 offers are below."),
    ]
    answer = ask(world, openai, "find an A100")
    assert answer.engine == "openai" and answer.fallback is None
    assert answer.text == "The best A100 offers are below."
    assert answer.cards and answer.intent == "recommend"  # the last tool that showed offers made the cards
    first, second = (r["body"] for r in openai.requests)
    assert first["tool_choice"] == "auto" and len(first["tools"]) == 9
    assert all(t["type"] == "function" and t["function"]["parameters"]["type"] == "object" for t in first["tools"])
    assert first["messages"][0]["role"] == "system" and first["messages"][-1] == {
        "role": "user",
        "content": "find an A100",
    }
    call, r0, r1 = second["messages"][-3:]
    assert call["role"] == "assistant" and [c["id"] for c in call["tool_calls"]] == ["call_0", "call_1"]
    assert call["content"] is None  # a message that only calls tools
    assert json.loads(call["tool_calls"][1]["function"]["arguments"]) == {"preset": "best-value"}
    assert [r0["role"], r0["tool_call_id"], r1["role"], r1["tool_call_id"]] == ["tool", "call_0", "tool", "call_1"]
    assert '"offers"' in r0["content"]


def test_the_conversation_continues_with_the_shown_cards_in_context(world: World, openai: FakeOpenAI) -> None:
    store = MemoryConversationStore()
    openai.script = [tool_calls_answer(("search_offers", {"filters": {"gpu": ["H100"]}})), text_answer("Here.")]
    first = ask(world, openai, "find an H100", store=store)
    openai.script = [text_answer("The first one is the cheapest.")]
    second = ask(world, openai, "which is cheapest?", store=store, cid=first.conversation_id)
    assert second.engine == "openai" and second.conversation_id == first.conversation_id
    sent = openai.requests[-1]["body"]["messages"]
    assert [m["role"] for m in sent[1:]] == ["user", "assistant", "user"]
    assert first.cards[0].offer_id in sent[2]["content"]  # the assistant turn lists its cards' ids


def test_a_hanging_model_falls_back_to_the_rules_dialogue(world: World, openai: FakeOpenAI) -> None:
    openai.mode = "hang"
    start = time.monotonic()
    answer = ask(world, openai, "find an H100 in the EU", timeout_s=0.5)
    assert answer.engine == "rules" and answer.fallback == "timeout"
    assert answer.cards and time.monotonic() - start < 10  # an answer came, long before the server would have


def test_a_failing_model_falls_back(world: World, openai: FakeOpenAI) -> None:
    openai.mode = "status"
    answer = ask(world, openai, "find an H100")
    assert answer.engine == "rules" and answer.fallback == "error" and answer.cards


def test_anonymous_callers_never_reach_the_model(world: World, openai: FakeOpenAI) -> None:
    answer = ask(world, openai, "find an H100", user=None)
    assert answer.engine == "rules" and answer.fallback == "anonymous" and not openai.requests
