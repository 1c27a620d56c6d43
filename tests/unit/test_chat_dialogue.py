"""The rules dialogue engine's parts: intents, slot merging, references to shown offers, the filters slots state,
pending answers; the tools' validation (the HTTP models), their binding to the caller, and the chat use case's
caps and owners."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpubroker.api.chat_tools import ChatTools
from gpubroker.domain.chat import MAX_ANSWER_CHARS, ChatContext, ChatRequest
from gpubroker.domain.errors import OfferNotFound, ValidationFailed
from gpubroker.domain.math_results import Recommendation
from gpubroker.services.assistant.chat import chat, owner_of
from gpubroker.services.assistant.dialogue import (
    Reply,
    RulesDialogue,
    _fill_pending,
    _offer_refs,
    detect_intent,
    merge_spec,
    offer_filters,
    providers_named,
)
from gpubroker.services.assistant.parse_rules import parse_spec
from gpubroker.services.offer_math import OfferMathCache
from gpubroker.services.search import SnapshotCache
from tests.component.conftest import seeded_world
from tests.fakes import World
from tests.fakes_chat import MemoryConversationStore

IDS = ["verda-00000000000000a1", "vast-00000000000000b2", "lambda-00000000000000c3", "runpod-00000000000000d4"]


@pytest.fixture(scope="module")
def world() -> World:
    return seeded_world()


def tools(world: World, user_id: str | None = "alice") -> ChatTools:
    snapshots = SnapshotCache(world.snapshots, ttl_s=600)
    return ChatTools(snapshots=snapshots, offer_math=OfferMathCache(snapshots.current).get, offers=world.offers,
                     history=world.history, user_id=user_id)  # fmt: skip


@pytest.mark.parametrize(
    ("message", "intent"),
    [
        ("help", "help"),
        ("hi there", "help"),
        ("what can you do?", "help"),
        ("analyse my current search", "analyze"),
        ("Analyze these offers", "analyze"),
        ("book the first one", "book"),
        ("confirm the booking", "book"),
        ("reserve #2 for 3 hours", "book"),
        ("compare the first two", "compare"),
        ("H100 vs A100", "compare"),
        ("price history of the first one", "history"),
        ("why is it first?", "explain"),
        ("explain the ranking", "explain"),
        ("what do you recommend?", "recommend"),
        ("how long to train a 7B model?", "estimate"),
        ("how much would it cost", "estimate"),
        ("my budget is $3 per hour", "budget"),
        ("something cheaper", "budget"),
        ("find an H100", "find"),
        ("show me the cheapest A100", "find"),
        ("Llama 3 8B", None),
        ("600", None),
    ],
)
def test_intents(message: str, intent: str | None) -> None:
    assert detect_intent(message) == intent


def test_a_weak_workload_type_does_not_replace_a_known_one_and_a_new_kind_starts_afresh() -> None:
    spec = merge_spec({}, parse_spec("fine-tune mistral 7b on 1M rows in the EU"))
    assert spec["workload_type"]["value"] == "fine_tuning"
    weak = merge_spec(spec, parse_spec("70B"))
    assert weak["workload_type"]["value"] == "fine_tuning" and weak["model_params_b"]["value"] == 70
    other = merge_spec(spec, parse_spec("I want to generate images"))
    assert other["workload_type"]["value"] == "image_generation"
    assert "model" not in other and "quantity" not in other and other["region"]["value"] == ["eu"]  # offers' slots stay


def test_references_to_shown_offers() -> None:
    slots: dict[str, Any] = {"offers": IDS}
    assert _offer_refs("book the first one", slots, None) == IDS[:1]
    assert _offer_refs("the second", slots, None) == IDS[1:2]
    assert _offer_refs("option 3", slots, None) == IDS[2:3]
    assert _offer_refs("#4", slots, None) == IDS[3:4]
    assert _offer_refs("compare 1 and 3", slots, None) == [IDS[0], IDS[2]]
    assert _offer_refs("top three", slots, None) == IDS[:3]
    assert _offer_refs("the last one", slots, None) == IDS[3:]
    assert _offer_refs("book it", slots, None) == IDS[:1]
    assert _offer_refs("#9", slots, None) == []
    assert _offer_refs(f"book {IDS[2]} please", {}, None) == [IDS[2]]
    ctx = ChatContext(visible_offer_ids=IDS[1:])
    assert _offer_refs("the first one", {}, ctx) == [IDS[1]]  # the screen stands in before any cards


def test_filters_from_slots() -> None:
    spec = parse_spec("8 H100 GPUs in the EU with GDPR under $20 per hour")
    f = offer_filters(spec)
    assert f == {"gpu": ["H100"], "region": ["eu"], "compliance": ["eu-data-residency"], "min_gpu_count": 8,
                 "max_price_per_hour": 20.0}  # fmt: skip
    total = parse_spec("an A100 for 10 hours, $50 in total")
    assert offer_filters(total)["max_price_per_hour"] == 5.0
    assert offer_filters(parse_spec("an A100, $48 a day"))["max_price_per_hour"] == 2.0


def test_pending_answers() -> None:
    slots: dict[str, Any] = {"pending": {"intent": "book", "field": "hours"}, "spec": {}}
    _fill_pending("12", slots)
    assert slots["hours"] == 12
    slots = {"pending": {"intent": "budget", "field": "budget"}, "spec": {}}
    _fill_pending("$3", slots)
    assert slots["spec"]["budget_usd"]["value"] == 3 and slots["spec"]["budget_usd"]["period"] == "hour"
    slots = {"pending": {"intent": "estimate", "field": "quantity"},
             "spec": {"workload_type": {"value": "image_generation", "confidence": 0.85}}}  # fmt: skip
    _fill_pending("5k", slots)
    assert slots["spec"]["quantity"] == {"value": 5000, "unit": "images", "confidence": 0.7}


def test_tools_validate_with_the_http_models(world: World) -> None:
    t = tools(world)
    with pytest.raises(ValidationFailed):
        t.search_offers({"min_price_per_hour": 5, "max_price_per_hour": 1})
    with pytest.raises(ValidationFailed):
        t.search_offers({"sort": "DROP TABLE"})
    with pytest.raises(ValidationFailed):
        t.map_workload({"type": "llm_inference", "params_b": -1})
    offer = t.search_offers({"gpu": ["H100"]}, limit=5).items[0].offer_id
    for hours in (0, 10**6):
        with pytest.raises(ValidationFailed):
            t.draft_booking(offer, hours)
    with pytest.raises(OfferNotFound):
        t.draft_booking("nowhere-0000000000000000", 3)
    with pytest.raises(ValidationFailed):
        t.compare_offers([offer])
    for bad in ("../../x", "A" * 200, ""):
        with pytest.raises(ValidationFailed):
            t.price_history(bad)
        with pytest.raises(ValidationFailed):
            t.draft_booking(bad, 3)
    with pytest.raises(ValidationFailed):
        t.recommend(preset="not-a-preset")
    draft = t.draft_booking(offer, 3)
    assert draft.placed is False and draft.link == f"/bookings?offer_id={offer}&hours=3"


def test_recommendations_are_for_the_bound_caller_only(world: World) -> None:
    alice, anonymous = tools(world, "alice").recommend({}, limit=3), tools(world, None).recommend({}, limit=3)
    assert isinstance(alice, Recommendation) and isinstance(anonymous, Recommendation)
    assert alice.reason.startswith("no interactions recorded for this user")
    assert anonymous.reason.startswith("anonymous user")


def test_ranking_contributions_sum_to_at_most_one_and_follow_the_score(world: World) -> None:
    t = tools(world)
    ids = [o.offer_id for o in t.search_offers({"gpu": ["A100"]}, limit=20).items]
    ranked = t.explain_ranking(ids)
    assert ranked.scores == sorted(ranked.scores, reverse=True)
    assert all(0 <= sum(c.values()) <= 1 + 1e-9 for c in ranked.contributions)


class Loud:
    """An engine answering far too much: the use case caps it."""

    name = "rules"

    def reply(self, message: str, **_: Any) -> Reply:
        return Reply(text="x" * (MAX_ANSWER_CHARS * 3), intent="help", slots={}, follow_up=["a"] * 20)


def test_answers_are_capped_and_owners_kept_apart(world: World) -> None:
    store = MemoryConversationStore()
    answer = chat(ChatRequest(message="hi"), user_id="alice", store=store, engine=Loud(),  # type: ignore[arg-type]
                  tools_for=lambda u: tools(world, u), clock=world.clock)  # fmt: skip
    assert len(answer.text) == MAX_ANSWER_CHARS and len(answer.follow_up) == 5
    assert owner_of("alice") == "user:alice" and owner_of(None) == "anon"
    assert store.turns("user:alice", answer.conversation_id)
    assert store.turns("anon", answer.conversation_id) == []


def test_text_in_a_message_never_names_the_tools_user(world: World) -> None:
    seen: list[str | None] = []

    def bind(user_id: str | None) -> ChatTools:
        seen.append(user_id)
        return tools(world, user_id)

    store = MemoryConversationStore()
    for message in ("find an H100", "as user bob, book the first one for 2 hours", "user_id=bob recommend"):
        chat(ChatRequest(message=message), user_id="alice", store=store, engine=RulesDialogue(), tools_for=bind,
             clock=world.clock)  # fmt: skip
    assert seen == ["alice", "alice", "alice"]


WORDS = ["find", "book", "the", "first", "compare", "1", "and", "2", "H100", "EU", "$3", "per", "hour", "why",
         "12", "images", "llama", "70b", "train", "rows", "history", "budget", "5000", "analyse", "my", "search",
         "#7", "hours", "GDPR", "4090", "minutes", "vs", "top", "three", "help", "recommend", "fastest", "0",
         "-1"]  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    turns=st.lists(
        st.one_of(
            st.text(min_size=1, max_size=200), st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join)
        ),
        min_size=1,
        max_size=4,
    )
)
def test_any_words_get_an_answer_never_an_error(world: World, turns: list[str]) -> None:
    """Whatever the turns say (random text, or the engine's own words in random order), each gets an answer: no
    exception escapes the engine, the answer validates, and nothing is ever placed."""
    store = MemoryConversationStore()
    cid = None
    for message in turns:
        answer = chat(ChatRequest(message=message, conversation_id=cid), user_id="alice", store=store,
                      engine=RulesDialogue(), tools_for=lambda u: tools(world, u), clock=world.clock)  # fmt: skip
        cid = answer.conversation_id
        assert answer.text and (answer.draft_booking is None or not answer.draft_booking.placed)


@pytest.mark.parametrize(
    ("message", "preset"),
    [("recommend the cheapest", "budget-friendly"), ("suggest the fastest", "highest-performance"),
     ("recommend the most reliable", "most-reliable"), ("recommend enterprise", "enterprise-grade"),
     ("recommend best value", "best-value")],
)  # fmt: skip
def test_preset_words_name_real_presets(world: World, message: str, preset: str) -> None:
    answer = RulesDialogue().reply(message, history=[], slots={}, context=None, tools=tools(world))
    assert answer.intent == "recommend" and f"**{preset}** preset" in answer.text and answer.cards


def test_an_estimate_shows_time_and_cost_with_their_uncertainty_band(world: World) -> None:
    """Issue 14's band in the assistant's estimate table, as the Planner shows it: "3.2 h (2.4-3.6)" (an en dash in
    the answer), the cost scaled by the same band."""
    store = MemoryConversationStore()
    request = ChatRequest(message="how long to fine-tune a 7B model on 100k rows for 3 epochs?")
    answer = chat(request, user_id=None, store=store, engine=RulesDialogue(), tools_for=lambda u: tools(world, u),
                  clock=world.clock)  # fmt: skip
    rows = [line for line in answer.text.splitlines() if line.startswith("| ") and " h (" in line]
    assert rows, answer.text
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        est, band = cells[2].split(" h (")
        lo, hi = (float(x.replace(",", "")) for x in band.rstrip(")").split("\u2013"))
        assert lo <= float(est.replace(",", "")) <= hi
        if cells[3].startswith("$"):
            cost, cost_band = cells[3].split(" (")
            c_lo, c_hi = (float(x.strip("$").replace(",", "")) for x in cost_band.rstrip(")").split("\u2013"))
            assert c_lo <= float(cost.strip("$").replace(",", "")) <= c_hi


# ---- a workload within the user's constraints (provider, region, budget) -------------------------------------------

BUG = "Which GPU to fine-tune Llama 3 8B with LoRA on 1M rows on verda?"


def ask(world: World, message: str, slots: dict[str, Any] | None = None) -> Reply:
    return RulesDialogue().reply(message, history=[], slots=slots or {}, context=None, tools=tools(world))


def runs_it(world: World, message: str, cards: list[Any]) -> list[str]:
    """The cards whose GPU cannot run the message's workload in that many GPUs (by the unconstrained mapping)."""
    request = tools(world).parse_workload(message).workload
    assert request is not None, message
    plans = {p.gpu_model: p for p in tools(world).map_workload(request, top=100).plans}
    return [f"{c.count} x {c.gpu}" for c in cards if c.gpu not in plans or c.count < (plans[c.gpu].gpus_needed or 1)]


@pytest.mark.parametrize(
    ("message", "provider"),
    [
        (BUG, "verda"),
        ("serve Llama 3 70B on Lambda Labs", "lambda"),
        ("fine-tune Mistral 7B on 500k rows from vast.ai", "vast"),
        ("generate 10k SDXL images on Paperspace", "paperspace"),
        ("Which GPU to fine-tune Llama 3 8B on 1M rows at FLUIDSTACK?", "fluidstack"),
    ],
)
def test_a_workload_on_a_provider_gets_that_providers_offers_that_can_run_it(
    world: World, message: str, provider: str
) -> None:
    answer = ask(world, message)
    assert answer.intent == "estimate" and answer.cards, answer.text
    assert {c.provider for c in answer.cards} == {provider}
    assert runs_it(world, message, answer.cards) == []
    assert f"among the offers at {provider}" in answer.text


def test_the_reported_case_the_best_gpu_overall_is_not_offered_by_the_provider(world: World) -> None:
    """The web journey's bug: the best GPU overall (GH200) is not rented by verda; the answer used to be empty."""
    t = tools(world)
    request = t.parse_workload(BUG).workload
    assert request is not None
    best_anywhere = t.map_workload(request, top=1).plans[0]
    at_verda = t.map_workload(request, top=100, filters={"provider": ["verda"]})
    assert best_anywhere.gpu_model not in {p.gpu_model for p in at_verda.plans}
    assert at_verda.plans and all(p.offer_id and p.offer_id.startswith("verda-") for p in at_verda.plans)
    assert any(p.gpu_model == best_anywhere.gpu_model and p.reason == "no_offers" for p in at_verda.infeasible)
    answer = ask(world, BUG)
    assert answer.cards and all(c.provider == "verda" and c.gpu != best_anywhere.gpu_model for c in answer.cards)


def test_region_and_budget_constrain_the_gpus_too(world: World) -> None:
    message = "fine-tune Llama 3 8B on 1M rows in the EU under $1/h"
    answer = ask(world, message)
    assert answer.cards and all(c.price_per_hour <= 1.0 for c in answer.cards)
    assert runs_it(world, message, answer.cards) == []
    assert "among the offers in EU, at most $1.00/h" in answer.text


def test_a_constrained_market_that_cannot_run_it_says_why_and_how_to_widen(world: World) -> None:
    answer = ask(world, "serve Llama 3.1 405B in fp16 on fluidstack")
    assert answer.cards == [] and answer.slots["offers"] == []
    assert "No GPU offered at fluidstack can run this workload" in answer.text
    assert "GB of GPU memory" in answer.text and "not enough memory" in answer.text
    assert "A100" in answer.text and "RTX" not in answer.text  # the GPUs fluidstack rents, not the whole catalog
    assert "Without that constraint, the best fit is **8 x" in answer.text
    assert "On any provider" in answer.follow_up
    wider = ask(world, "On any provider", dict(answer.slots))
    assert wider.cards and "providers" not in wider.slots and all(c.count >= 8 for c in wider.cards)
    assert runs_it(world, "serve Llama 3.1 405B in fp16", wider.cards) == []


def test_a_constraint_no_offer_matches_is_said_not_left_empty(world: World) -> None:
    answer = ask(world, "fine-tune Llama 3 8B on 1M rows from vast.ai under $0.10/h")
    assert answer.cards == [] and answer.text
    assert "No live offer matches at vast, at most $0.10/h" in answer.text
    assert "Without that constraint, the best fit is" in answer.text


def test_an_unconstrained_workload_still_shows_the_best_gpu_overall(world: World) -> None:
    message = "Which GPU to fine-tune Llama 3 8B with LoRA on 1M rows?"
    answer = ask(world, message)
    request = tools(world).parse_workload(message).workload
    assert request is not None
    best = tools(world).map_workload(request, top=1).plans[0]
    assert answer.cards and {c.gpu for c in answer.cards} == {best.gpu_model}
    assert "among the offers" not in answer.text and "providers" not in answer.slots


def test_the_model_tool_takes_the_constraints_too(world: World) -> None:
    t = tools(world)
    request = t.parse_workload("serve Llama 3.1 405B in fp16").workload
    assert request is not None
    workload = request.model_dump(mode="json")
    outcome = t.call_tool("map_workload", {"workload": workload, "filters": {"provider": ["fluidstack"]}},
                          context=None)  # fmt: skip
    assert outcome.ok and outcome.content["plans"] == []
    assert outcome.content["infeasible"] and all("memory" in r for r in outcome.content["infeasible"])
    everywhere = t.call_tool("map_workload", {"workload": workload}, context=None)
    assert everywhere.ok and everywhere.content["plans"]
    refused = t.call_tool("map_workload", {"workload": workload, "filters": {"max_price_per_hour": "x"}}, context=None)
    assert not refused.ok and refused.invalid


@pytest.mark.parametrize(
    ("message", "named"),
    [
        ("on verda", ["verda"]),
        ("on VERDA", ["verda"]),
        ("on Lambda Labs", ["lambda"]),
        ("Lambda Cloud H100", ["lambda"]),
        ("from vast.ai", ["vast"]),
        ("what do you have at vast?", ["vast"]),
        ("the cheapest H100 on vast, please", ["vast"]),
        ("RunPod H100", ["runpod"]),
        ("verda's cheapest H100", ["verda"]),
        ("on DataCrunch", ["verda"]),
        ("H100 at Paperspace, FluidStack or Shadeform", ["paperspace", "fluidstack", "shadeform"]),
        ("on runpod or vast", ["runpod", "vast"]),
        ("in Google Cloud", ["gcp"]),
        ("a vast dataset of images", []),
        ("with vast amounts of data", []),
        ("train on 1M rows", []),
        ("aws lambda function", ["aws"]),
    ],
)
def test_provider_names_as_users_write_them(message: str, named: list[str]) -> None:
    assert providers_named(message) == named


def test_a_gpu_the_constrained_market_cannot_use_is_said_before_the_alternatives(world: World) -> None:
    message = "fine-tune Llama 3 8B on 1M rows on an H100 at runpod under $2/h"
    answer = ask(world, message)
    assert answer.text.startswith("No H100 at runpod, at most $2.00/h can run this")
    assert answer.cards and all(c.provider == "runpod" and c.price_per_hour <= 2.0 for c in answer.cards)
    assert runs_it(world, message, answer.cards) == []
    exact = ask(world, "fine-tune Llama 3 8B on 1M rows on an H100 at runpod")
    assert exact.cards and all(c.provider == "runpod" and "H100" in c.gpu for c in exact.cards)
    assert not exact.text.startswith("No H100")
