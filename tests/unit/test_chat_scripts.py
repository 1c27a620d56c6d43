"""The rules dialogue engine on multi-turn scripts (tests/fixtures/assistant/chat_scripts.json): each turn's answer
is checked (intent, cards present, the GPU / region / budget / count respected by every card, the question asked
for a missing field, a booking drafted and never placed), against every real catalog ingested into in-memory
ports. The share of scripts answered correctly is printed (and must be all of them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gpubroker.api.chat_tools import ChatTools
from gpubroker.domain.chat import Card, ChatAnswer, ChatContext, ChatRequest
from gpubroker.domain.regions import region_groups
from gpubroker.services.assistant.chat import chat
from gpubroker.services.assistant.dialogue import RulesDialogue
from gpubroker.services.offer_math import OfferMathCache
from gpubroker.services.search import SnapshotCache
from tests.component.conftest import seeded_world
from tests.fakes import World
from tests.fakes_chat import MemoryConversationStore

SCRIPTS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "assistant" / "chat_scripts.json").read_text()
)


@pytest.fixture(scope="module")
def world() -> World:
    return seeded_world()


def make_tools(world: World) -> Any:
    snapshots = SnapshotCache(world.snapshots, ttl_s=600)
    offer_math = OfferMathCache(snapshots.current)

    def tools_for(user_id: str | None) -> ChatTools:
        return ChatTools(snapshots=snapshots, offer_math=offer_math.get, offers=world.offers, history=world.history,
                         user_id=user_id)  # fmt: skip

    return tools_for


def _card_checks(cards: list[Card], expect: dict[str, Any]) -> list[str]:
    bad: list[str] = []
    if "cards" in expect and len(cards) != expect["cards"]:
        bad.append(f"{len(cards)} cards, expected {expect['cards']}")
    if "cards_min" in expect and len(cards) < expect["cards_min"]:
        bad.append(f"{len(cards)} cards, expected at least {expect['cards_min']}")
    if "gpu" in expect and any(expect["gpu"].lower() not in c.gpu.lower() for c in cards):
        bad.append(f"a card is not a {expect['gpu']}: {[c.gpu for c in cards]}")
    if "region" in expect and any(expect["region"] not in region_groups(c.region) for c in cards):
        bad.append(f"a card is outside {expect['region']}: {[c.region for c in cards]}")
    if "max_price" in expect and any(c.price_per_hour > expect["max_price"] + 1e-9 for c in cards):
        bad.append(f"a card costs more than {expect['max_price']}: {[c.price_per_hour for c in cards]}")
    if "provider" in expect and any(c.provider != expect["provider"] for c in cards):
        bad.append(f"a card is not at {expect['provider']}: {[c.provider for c in cards]}")
    if "min_count" in expect and any(c.count < expect["min_count"] for c in cards):
        bad.append(f"a card has fewer than {expect['min_count']} GPUs")
    return bad


def _draft_checks(answer: ChatAnswer, expect: dict[str, Any], shown: list[str]) -> list[str]:
    bad: list[str] = []
    d = answer.draft_booking
    if expect.get("no_draft") and d is not None:
        bad.append("drafted a booking too early")
    if d is not None and d.placed:
        bad.append("a booking was placed")
    draft = expect.get("draft")
    if draft is None:
        return bad
    if d is None:
        return [*bad, "no booking draft"]
    position = 1 if draft["offer"] == "first" else int(draft["offer"])
    if d.hours != draft["hours"] or d.offer_id != shown[position - 1]:
        bad.append(f"draft {d} is not offer #{position} for {draft['hours']} h")
    if not d.link.startswith(f"/bookings?offer_id={d.offer_id}"):
        bad.append(f"draft link {d.link}")
    return bad


def check(answer: ChatAnswer, expect: dict[str, Any], shown: list[str]) -> list[str]:
    """What is wrong with ``answer`` (empty: all as expected); ``shown``: the cards of the answer before."""
    bad = _card_checks(answer.cards, expect) + _draft_checks(answer, expect, shown)
    if "intent" in expect and answer.intent != expect["intent"]:
        bad.append(f"intent {answer.intent} != {expect['intent']}")
    if "asks" in expect and (expect["asks"].lower() not in answer.text.lower() or "?" not in answer.text):
        bad.append(f"did not ask {expect['asks']!r}: {answer.text[:120]!r}")
    bad += [f"text lacks {words!r}" for words in expect.get("text", []) if words.lower() not in answer.text.lower()]
    return bad


def run_script(script: dict[str, Any], world: World) -> list[str]:
    tools_for = make_tools(world)
    store = MemoryConversationStore()
    context = None
    if "context" in script:
        filters = script["context"]["filters"]
        visible = [o.offer_id for o in tools_for(None).search_offers(filters, limit=script["context"]["visible"]).items]
        context = ChatContext.model_validate({"filters": filters, "visible_offer_ids": visible})
    cid: str | None = None
    shown: list[str] = list(context.visible_offer_ids) if context else []
    failures: list[str] = []
    for n, turn in enumerate(script["turns"], start=1):
        request = ChatRequest(message=turn["say"], conversation_id=cid, context=context)
        answer = chat(request, user_id="alice", store=store, engine=RulesDialogue(), tools_for=tools_for,
                      clock=world.clock)  # fmt: skip
        failures += [f"turn {n} ({turn['say']!r}): {b}" for b in check(answer, turn["expect"], shown)]
        assert cid is None or answer.conversation_id == cid, "the conversation changed id"
        cid = answer.conversation_id
        if answer.cards:
            shown = [c.offer_id for c in answer.cards]
    return failures


def test_there_are_at_least_20_scripts_of_3_to_6_turns() -> None:
    assert len(SCRIPTS) >= 20
    assert all(3 <= len(s["turns"]) <= 6 for s in SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=[s["name"] for s in SCRIPTS])
def test_chat_script(script: dict[str, Any], world: World) -> None:
    failures = run_script(script, world)
    assert not failures, "\n".join(failures)


def test_share_of_scripts_answered_correctly(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    passed = sum(not run_script(s, world) for s in SCRIPTS)
    with capsys.disabled():
        print(f"\nchat scripts answered correctly: {passed}/{len(SCRIPTS)} ({100 * passed / len(SCRIPTS):.0f}%)")
    assert passed == len(SCRIPTS)
