"""The language-model parse engine: a valid answer is normalised through the rules engine's tables and answered
with ``engine`` set; every other path answers with the rules engine and says why (``fallback``): anonymous
caller, budget spent, breaker open, timeout, error, invalid answer. The breaker opens after repeated failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gpubroker.adapters.breaker import MemoryCircuitBreaker
from gpubroker.adapters.llm.budget import MemoryLlmBudget
from gpubroker.domain.breaker import BreakerState
from gpubroker.domain.llm import LlmError, LlmTimeout, Message, ModelTurn, ToolSpec
from gpubroker.domain.plans import LLM_DAILY_CALLS, Plan
from gpubroker.services.assistant import parse_workload
from gpubroker.services.assistant.llm_engine import Caller, LlmEngine
from gpubroker.services.assistant.parse_llm import llm_schema, parse_workload_llm, spec_from_llm
from tests.llm_fakes import BAD_SPEC, GOOD_SPEC, TEXT

USER = Caller("u-1", Plan.FREE)


@dataclass
class ScriptedModel:
    """A LanguageModel whose answer each test sets: a dict, an exception to raise, or a delay."""

    answer: Any = field(default_factory=lambda: dict(GOOD_SPEC))
    delay_s: float = 0.0
    engine: str = "bedrock"
    calls: int = 0
    released: threading.Event = field(default_factory=threading.Event)

    def complete_json(self, system: str, user: str, schema: Mapping[str, Any], *, timeout_s: float) -> dict[str, Any]:
        self.calls += 1
        if self.delay_s:
            self.released.wait(self.delay_s)
        if isinstance(self.answer, Exception):
            raise self.answer
        return dict(self.answer)

    def converse(self, messages: Sequence[Message], tools: Sequence[ToolSpec], *, system: str, timeout_s: float,
                 tool_choice: str | None = None, max_tokens: int = 1024) -> ModelTurn:  # fmt: skip
        raise NotImplementedError


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 5, 23, 59, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


def engine(model: ScriptedModel, *, timeout_s: float = 3.0, clock: Clock | None = None) -> LlmEngine:
    return LlmEngine(model=model, breaker=MemoryCircuitBreaker("llm", clock=clock),
                     budget=MemoryLlmBudget(clock=clock), timeout_s=timeout_s)  # fmt: skip


def test_a_valid_answer_is_the_models_normalised_through_the_tables() -> None:
    answer = parse_workload_llm(TEXT, USER, engine(ScriptedModel()))
    assert answer.engine == "bedrock" and answer.fallback is None
    spec = answer.spec
    assert spec.model is not None and spec.model.value == "Llama 3.1 70B"  # the table's name, not the words
    assert spec.model_params_b is not None and spec.model_params_b.value == 70.6  # the table's size
    assert spec.budget_usd is not None and spec.budget_usd.value == pytest.approx(11.6)  # EUR at the fixed rate
    assert spec.region is not None and spec.region.value == ["eu"] and spec.region.countries == ["DE"]
    # the same mapping code as the rules engine: the table's architecture reaches the workload request
    rules = parse_workload(TEXT)
    assert answer.workload is not None and rules.workload is not None
    assert answer.workload.model_dump() == rules.workload.model_dump()


def test_an_unknown_model_name_is_dropped_but_a_stated_size_stays() -> None:
    spec = spec_from_llm({"workload_type": {"value": "llm_inference", "confidence": 0.9},
                          "model": {"value": "my-private-model", "confidence": 0.9},
                          "model_params_b": {"value": 13, "confidence": 0.8}})  # fmt: skip
    assert spec.model is None and spec.model_params_b is not None and spec.model_params_b.value == 13


@pytest.mark.parametrize(
    "raw",
    [BAD_SPEC, {"workload_type": {"value": "training"}}, {"made_up": 1}, [1, 2],
     {"budget_usd": {"amount": 5, "currency": "XYZ", "period": "hour", "confidence": 1}},
     {"context_tokens": {"value": "lots", "confidence": 0.5}}],
)  # fmt: skip
def test_an_answer_that_does_not_validate_falls_back(raw: Any) -> None:
    model = ScriptedModel(answer=raw)
    if not isinstance(raw, dict):  # not even an object (an adapter bug): still an invalid answer
        model.complete_json = lambda *a, **k: raw  # type: ignore[method-assign]
    answer = parse_workload_llm(TEXT, USER, engine(model))
    assert (answer.engine, answer.fallback) == ("rules", "invalid")
    assert answer.spec == parse_workload(TEXT).spec


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (LlmError("bedrock: ThrottlingException"), "error"),
        (LlmTimeout("slow"), "timeout"),
        (RuntimeError("bug"), "error"),
    ],
)
def test_an_error_falls_back(error: Exception, reason: str) -> None:
    answer = parse_workload_llm(TEXT, USER, engine(ScriptedModel(answer=error)))
    assert (answer.engine, answer.fallback) == ("rules", reason)


def test_a_model_that_hangs_costs_the_timeout_and_no_more() -> None:
    model = ScriptedModel(delay_s=30)
    start = time.monotonic()
    answer = parse_workload_llm(TEXT, USER, engine(model, timeout_s=0.2))
    elapsed = time.monotonic() - start
    model.released.set()
    assert (answer.engine, answer.fallback) == ("rules", "timeout")
    assert 0.2 <= elapsed < 0.2 + 0.3


def test_anonymous_callers_get_the_rules_engine_and_no_call() -> None:
    model = ScriptedModel()
    answer = parse_workload_llm(TEXT, None, engine(model))
    assert (answer.engine, answer.fallback, model.calls) == ("rules", "anonymous", 0)


def test_no_model_configured_is_the_rules_engine_without_a_fallback() -> None:
    answer = parse_workload_llm(TEXT, USER, None)
    assert (answer.engine, answer.fallback) == ("rules", None)


@pytest.mark.parametrize("plan", list(Plan))
def test_the_daily_budget_per_plan_then_rules_until_the_next_utc_day(plan: Plan) -> None:
    clock = Clock()
    model = ScriptedModel()
    eng = engine(model, clock=clock)
    caller = Caller(f"u-{plan}", plan)
    limit = LLM_DAILY_CALLS[plan]
    for _ in range(limit):
        assert parse_workload_llm("hi", caller, eng).fallback is None
    over = parse_workload_llm(TEXT, caller, eng)
    assert (over.engine, over.fallback, model.calls) == ("rules", "budget", limit)
    assert parse_workload_llm(TEXT, Caller("someone-else", plan), eng).fallback is None  # per user
    clock.at += timedelta(minutes=2)  # past midnight UTC: a new day
    assert parse_workload_llm(TEXT, caller, eng).engine == "bedrock"


def test_the_breaker_opens_after_repeated_failures_and_stops_calling() -> None:
    model = ScriptedModel(answer=LlmError("down"))
    eng = engine(model)
    reasons = [parse_workload_llm(TEXT, USER, eng).fallback for _ in range(7)]
    assert reasons == ["error"] * 5 + ["breaker_open"] * 2
    assert model.calls == 5
    assert isinstance(eng.breaker, MemoryCircuitBreaker) and eng.breaker.state() is BreakerState.OPEN
    assert isinstance(eng.budget, MemoryLlmBudget) and eng.budget.used(USER.user_id) == 5  # refused calls given back


def test_invalid_answers_count_as_breaker_failures_too() -> None:
    eng = engine(ScriptedModel(answer=BAD_SPEC))
    reasons = [parse_workload_llm(TEXT, USER, eng).fallback for _ in range(6)]
    assert reasons == ["invalid"] * 5 + ["breaker_open"]


def test_the_schema_has_no_refs_and_asks_the_table_fields_as_read() -> None:
    schema = llm_schema()
    assert "$ref" not in str(schema) and "$defs" not in schema
    props = schema["properties"]
    assert set(props["model"]["properties"]) == {"value", "confidence"}
    assert set(props["budget_usd"]["required"]) == {"amount", "currency", "period", "confidence"}
    assert props["workload_type"]["type"] == "object"


class DownBudget(MemoryLlmBudget):
    def take(self, user_id: str, limit: int) -> bool:
        from gpubroker.domain.llm import BudgetUnavailable

        raise BudgetUnavailable("redis down")


def test_a_budget_that_cannot_be_counted_fails_closed_to_rules() -> None:
    model = ScriptedModel()
    eng = LlmEngine(model=model, breaker=MemoryCircuitBreaker("llm"), budget=DownBudget())
    answer = parse_workload_llm(TEXT, USER, eng)
    assert (answer.engine, answer.fallback, model.calls) == ("rules", "budget_unavailable", 0)


@pytest.mark.parametrize("answer", [LlmError("bedrock: ThrottlingException"), RuntimeError("bug"), BAD_SPEC])
def test_the_text_is_never_logged(answer: Any, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    log = logging.getLogger("gpubroker.services.assistant.parse_llm")  # under Powertools' "gpubroker" logger,
    log.addHandler(caplog.handler)  # which does not propagate once a handler module has set it up
    caplog.set_level("DEBUG", logger=log.name)
    secret = "serve llama 3 8b for project NIGHTJAR-7731"
    try:
        parse_workload_llm(secret, USER, engine(ScriptedModel(answer=answer)))
    finally:
        log.removeHandler(caplog.handler)
    assert caplog.records  # the fallback was logged ...
    assert "NIGHTJAR" not in caplog.text  # ... without the text
