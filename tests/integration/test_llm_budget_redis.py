"""The assistant's language-model guards against a real redis-server (``REDIS_URL``): the per-user daily call
budget (one key per user per UTC day, expiring; shared by every instance) and the shared ``llm`` circuit breaker
opening after repeated failures of a real (fake) OpenAI-compatible endpoint. Keys under a per-run prefix."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis

from gpubroker.adapters.llm.budget import TTL_S, RedisLlmBudget
from gpubroker.adapters.llm.openai_compat import OpenAICompatibleModel
from gpubroker.domain.breaker import BreakerState
from gpubroker.domain.llm import BudgetUnavailable
from gpubroker.domain.plans import LLM_DAILY_CALLS, Plan
from gpubroker.services.assistant.llm_engine import Caller, LlmEngine
from gpubroker.services.assistant.parse_llm import parse_workload_llm
from gpubroker.wiring.assistant_llm import llm_breaker
from tests.integration.redis_server import REDIS_URL, require_redis, scoped_client
from tests.llm_fakes import TEXT, FakeOpenAI, fake_openai

require_redis()

PREFIX = f"test-llm-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def client() -> Iterator[Redis]:
    yield from scoped_client(f"{PREFIX}*")


@pytest.fixture
def openai() -> Iterator[FakeOpenAI]:
    with fake_openai() as fake:
        yield fake


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


def test_the_budget_counts_per_user_per_utc_day_in_one_expiring_key(client: Redis) -> None:
    clock = Clock()
    budget = RedisLlmBudget(REDIS_URL, f"{PREFIX}:b", clock=clock)
    other_instance = RedisLlmBudget(REDIS_URL, f"{PREFIX}:b", clock=clock)
    limit = LLM_DAILY_CALLS[Plan.FREE]
    results = [(budget if i % 2 else other_instance).take("alice", limit) for i in range(limit + 2)]
    assert results == [True] * limit + [False, False]
    assert budget.take("bob", limit) is True
    key = budget.key("alice")
    assert key == f"{PREFIX}:b:{{alice}}:20261205"
    assert 0 < client.ttl(key) <= TTL_S
    budget.give_back("bob")
    assert budget.used("bob") == 0
    clock.at += timedelta(hours=12)  # the next UTC day
    assert budget.take("alice", limit) is True and budget.used("alice") == 1


def test_an_unreachable_budget_store_fails_closed() -> None:
    budget = RedisLlmBudget("redis://127.0.0.1:1/0", socket_timeout=0.2)
    with pytest.raises(BudgetUnavailable):
        budget.take("alice", 20)


def test_the_shared_breaker_opens_after_repeated_llm_failures(client: Redis, openai: FakeOpenAI) -> None:
    openai.mode, openai.status = "status", 503
    prefix = f"{PREFIX}:k:"

    def instance() -> LlmEngine:  # each a Lambda instance of its own: model, breaker and budget clients
        return LlmEngine(model=OpenAICompatibleModel(openai.url), breaker=llm_breaker(REDIS_URL, prefix),
                         budget=RedisLlmBudget(REDIS_URL, f"{PREFIX}:bb"), timeout_s=2.0)  # fmt: skip

    a, b = instance(), instance()
    caller = Caller("carol", Plan.PRO)
    reasons = [parse_workload_llm(TEXT, caller, (a, b)[i % 2]).fallback for i in range(8)]
    assert reasons == ["error"] * 5 + ["breaker_open"] * 3
    assert len(openai.requests) == 5  # open: the endpoint is not called
    assert client.hget(f"{prefix}{{breaker:llm}}", "state") == BreakerState.OPEN.value
    assert a.budget.used("carol") == 5  # calls the breaker refused are not counted


def test_a_hanging_endpoint_is_a_timeout_fallback_on_time(client: Redis, openai: FakeOpenAI) -> None:
    import time

    openai.mode = "hang"
    engine = LlmEngine(model=OpenAICompatibleModel(openai.url), breaker=llm_breaker(REDIS_URL, f"{PREFIX}:h:"),
                       budget=RedisLlmBudget(REDIS_URL, f"{PREFIX}:hb"), timeout_s=0.5)  # fmt: skip
    start = time.monotonic()
    answer = parse_workload_llm(TEXT, Caller("dave", Plan.FREE), engine)
    assert time.monotonic() - start < 0.5 + 0.3
    assert (answer.engine, answer.fallback) == ("rules", "timeout") and answer.spec.model is not None
