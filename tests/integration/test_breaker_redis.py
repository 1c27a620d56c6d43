"""RedisCircuitBreaker against a real redis-server (``REDIS_URL``, default redis://127.0.0.1:6379/0).

Every key this module writes is under one per-run prefix, deleted at the end.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gpubroker.adapters.breaker import RedisCircuitBreaker, guarded
from gpubroker.domain.breaker import BreakerConfig, BreakerOpen, BreakerState
from tests.fakes import FixedClock, ListSource
from tests.integration.redis_server import REDIS_URL, require_redis, scoped_client
from tests.unit.test_breaker import (
    Factory,
    Step,
    assert_same_decisions,
    scenarios,
    test_exactly_three_trials,
    test_failure_in_half_open_reopens_for_another_60s,
    test_five_failures_spread_over_more_than_30s_do_not_open,
    test_five_failures_within_30s_open,
    test_open_rejects_for_60s,
    test_results_while_open_are_ignored,
    test_three_successes_close,
)

# The named rules of tests/unit/test_breaker.py, collected here again with `make` building RedisCircuitBreakers.
NAMED_RULES = (
    test_five_failures_within_30s_open,
    test_five_failures_spread_over_more_than_30s_do_not_open,
    test_open_rejects_for_60s,
    test_exactly_three_trials,
    test_three_successes_close,
    test_failure_in_half_open_reopens_for_another_60s,
    test_results_while_open_are_ignored,
)

require_redis()

PREFIX = f"test-breaker-{uuid.uuid4().hex[:8]}:"
CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def new_client(*, decode_responses: bool = True) -> Redis:
    return Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2, decode_responses=decode_responses)


@pytest.fixture(scope="module")
def client() -> Iterator[Redis]:
    yield from scoped_client(f"{PREFIX}*")


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def breaker(r: Redis, name: str, clock: FixedClock, config: BreakerConfig | None = None) -> RedisCircuitBreaker:
    return RedisCircuitBreaker(r, name, config=config or BreakerConfig(), clock=clock, key_prefix=PREFIX)


@pytest.fixture
def make(client: Redis) -> Factory:
    return lambda cfg, clock: breaker(client, unique("named"), clock, cfg)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_circuit_breaker_state_transitions(client: Redis, scenario: tuple[BreakerConfig, list[Step]]) -> None:
    """Property "circuit breaker state transitions": the Lua scripts decide exactly as the reference model."""
    config, ops = scenario
    name = unique("prop")
    assert_same_decisions(config, ops, lambda cfg, clock: breaker(client, name, clock, cfg))


def test_fifty_concurrent_callers_on_three_instances_get_exactly_three_trials(client: Redis) -> None:
    clock = FixedClock()
    name = unique("conc")
    clients = [new_client(decode_responses=i > 0) for i in range(3)]  # replies as bytes or str: both work
    instances = [breaker(c, name, clock) for c in clients]
    for i in range(5):  # failures reported by different instances add up
        instances[i % 3].record_failure()
    assert all(b.state() is OPEN for b in instances)
    assert not any(b.allow() for b in instances)
    clock.advance(60.001)

    barrier = threading.Barrier(50)
    results: list[bool] = []
    lock = threading.Lock()

    def call(b: RedisCircuitBreaker) -> None:
        barrier.wait()
        allowed = b.allow()
        with lock:
            results.append(allowed)

    threads = [threading.Thread(target=call, args=(instances[i % 3],)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 50
    assert sum(results) == 3
    assert not any(b.degraded for b in instances)

    for b in instances:  # the three trials succeed, reported by three instances: closed everywhere
        b.record_success()
    assert all(b.state() is CLOSED for b in instances)
    assert not client.exists(instances[0].key)  # a closed breaker leaves no key behind
    for c in clients:
        c.close()


def test_key_layout_and_expiry(client: Redis) -> None:
    clock = FixedClock()
    b = breaker(client, "runpod", clock)
    assert b.key == f"{PREFIX}{{breaker:runpod}}"  # hash-tagged: one slot in a cluster
    assert b.state() is CLOSED and not client.exists(b.key)  # reads write nothing
    b.record_failure()
    fields = client.hgetall(b.key)
    assert fields["state"] == "closed"
    assert fields["failures"] == repr(clock.now().timestamp())
    assert 590_000 < client.pttl(b.key) <= 600_000  # idle breakers vanish
    for _ in range(4):
        b.record_failure()
    fields = client.hgetall(b.key)
    assert fields["state"] == "open" and fields["failures"] == ""
    client.delete(b.key)
    assert b.state() is CLOSED  # an expired breaker starts over closed
    with pytest.raises(ValueError, match="idle_ttl_s"):
        RedisCircuitBreaker(client, "x", idle_ttl_s=60)


def test_guarded_source_through_redis(client: Redis) -> None:
    clock = FixedClock()
    b = breaker(client, unique("guard"), clock)
    for _ in range(5):
        b.record_failure()
    inner = ListSource("runpod", [])
    with pytest.raises(BreakerOpen):
        guarded(inner, b).rows()
    clock.advance(60)
    assert list(guarded(inner, b).rows()) == []


def unreachable(clock: FixedClock, *, redis_retry_s: float = 5.0) -> RedisCircuitBreaker:
    down = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0))
    return RedisCircuitBreaker(down, unique("down"), clock=clock, key_prefix=PREFIX, redis_retry_s=redis_retry_s)


def counting_redis_calls(b: RedisCircuitBreaker) -> list[int]:
    """Count ``b``'s calls to Redis (its script calls): the returned list's one item goes up by one per call."""
    calls = [0]
    real_call = b._call

    def counting(op: str, now: float) -> tuple[bool, BreakerState]:
        calls[0] += 1
        return real_call(op, now)

    b._call = counting  # type: ignore[method-assign]
    return calls


def test_redis_unreachable_fails_open_onto_the_in_process_breaker(caplog: pytest.LogCaptureFixture) -> None:
    clock = FixedClock()
    with caplog.at_level(logging.WARNING, logger="gpubroker.adapters.breaker"):
        b = unreachable(clock)
        calls = counting_redis_calls(b)
        rows = list(guarded(ListSource("runpod", []), b).rows())  # the provider call is not blocked
        assert rows == [] and b.degraded
        assert b.allow()
        for _ in range(5):
            b.record_failure()
        assert b.state() is OPEN and not b.allow()  # ... yet a failing provider is still cut off
        assert b.fallback.state() is OPEN
        assert calls == [1]  # one refused connection, then the outage adds no Redis call (and no timeout) per call
        clock.advance(60)
        assert [b.allow() for _ in range(4)] == [True, True, True, False]
        assert calls == [2]  # tried again once, after redis_retry_s
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Redis unreachable" in warnings[0].getMessage()


def test_redis_unreachable_is_retried_after_redis_retry_s() -> None:
    clock = FixedClock()
    b = unreachable(clock, redis_retry_s=5.0)
    calls = counting_redis_calls(b)
    for _ in range(10):
        assert b.allow()
    assert calls == [1]  # not tried again during the back-off: an outage adds no timeout per call
    clock.advance(5)
    assert b.allow()
    assert calls == [2]


def test_recovers_when_redis_answers_again(client: Redis) -> None:
    clock = FixedClock()
    b = breaker(client, unique("recover"), clock)
    real_call = b._call
    down = True

    def flaky(op: str, now: float) -> tuple[bool, BreakerState]:
        if down:
            raise ConnectionError("refused")
        return real_call(op, now)

    b._call = flaky  # type: ignore[method-assign]
    for _ in range(5):
        b.record_failure()
    assert b.degraded and b.fallback.state() is OPEN
    down = False
    clock.advance(5)
    assert b.allow()  # back on the shared breaker, which saw none of those failures
    assert not b.degraded and b.state() is CLOSED
