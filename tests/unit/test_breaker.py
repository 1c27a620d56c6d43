"""Circuit breaker: the reference state machine, the in-process breaker (Redis fallback) and GuardedSource."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from gpubroker.adapters.breaker import GuardedSource, MemoryCircuitBreaker, guarded
from gpubroker.domain.breaker import BreakerConfig, BreakerOpen, BreakerState, CircuitBreakerModel
from gpubroker.domain.errors import SourceError
from gpubroker.domain.offers import RawOffer, RejectedRow
from tests.fakes import FailingSource, FixedClock, ListSource

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


class Breaker(Protocol):
    def allow(self) -> bool: ...

    def record_success(self) -> None: ...

    def record_failure(self) -> None: ...

    def state(self) -> BreakerState: ...


class ModelOnClock:
    """The reference model read through a clock, so named tests drive every implementation the same way."""

    def __init__(self, config: BreakerConfig, clock: FixedClock) -> None:
        self.model = CircuitBreakerModel(config)
        self.clock = clock

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def allow(self) -> bool:
        return self.model.allow(self._now())

    def record_success(self) -> None:
        self.model.record_success(self._now())

    def record_failure(self) -> None:
        self.model.record_failure(self._now())

    def state(self) -> BreakerState:
        return self.model.state(self._now())


Factory = Callable[[BreakerConfig, FixedClock], Breaker]

# --- the property shared with tests/integration/test_breaker_redis.py ---------------------------------------

Step = tuple[str, int]

configs = st.one_of(
    st.just(BreakerConfig()),
    st.builds(
        BreakerConfig,
        failures=st.integers(1, 5),
        window_s=st.sampled_from([1.0, 2.5, 30.0]),
        open_s=st.sampled_from([1.0, 4.0, 60.0]),
        trials=st.integers(1, 3),
    ),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[BreakerConfig, list[Step]]:
    """A config and a sequence of steps: runs of one call (1-6 times) or one clock advance (milliseconds).

    Advances are small, or the config's thresholds (window, open period) give or take a millisecond, or long,
    so that runs of failures open the breaker and the open period ends often enough to exercise half-open.
    """
    config = draw(configs)
    window_ms, open_ms = int(config.window_s * 1000), int(config.open_s * 1000)
    advance = st.one_of(
        st.integers(0, 3_000),
        st.sampled_from([window_ms, open_ms]).flatmap(lambda ms: st.sampled_from([ms - 1, ms, ms + 1])),
        st.integers(0, 2 * open_ms),
    )
    call_run = st.tuples(st.sampled_from(["allow", "success", "failure"]), st.integers(1, 6))
    calls = call_run.map(lambda r: [(r[0], 0)] * r[1])
    block = st.one_of(calls, calls, advance.map(lambda ms: [("advance", ms)]))
    blocks = draw(st.lists(block, min_size=8, max_size=40))
    return config, [s for b in blocks for s in b]


def check_invariants(model: CircuitBreakerModel, now: float) -> None:
    cfg = model.config
    if model.mode is CLOSED:
        assert len(model.failures) < cfg.failures
        assert not model.permits and model.successes == 0
    elif model.mode is OPEN:
        assert model.open_until is not None and now < model.open_until
        assert not model.failures
    else:
        assert model.successes + len(model.permits) <= cfg.trials
        assert model.successes < cfg.trials
        assert all(now - t < cfg.open_s for t in model.permits)


def assert_same_decisions(config: BreakerConfig, ops: list[Step], make: Factory) -> None:
    """Apply ``ops`` to the reference model and to ``make(config, clock)``: identical decisions and states."""
    clock = FixedClock()
    model = CircuitBreakerModel(config)
    impl = make(config, clock)
    for i, (op, ms) in enumerate(ops):
        if op == "advance":
            clock.advance(ms / 1000)
            continue
        now = clock.now().timestamp()
        if op == "allow":
            expected = model.allow(now)
            assert impl.allow() == expected, f"step {i}: allow"
        elif op == "success":
            model.record_success(now)
            impl.record_success()
        else:
            model.record_failure(now)
            impl.record_failure()
        assert impl.state() == model.state(now), f"step {i}: state after {op}"
        check_invariants(model, now)
        note(f"{i}: {op} -> {model}")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_circuit_breaker_state_transitions(scenario: tuple[BreakerConfig, list[Step]]) -> None:
    """Property "circuit breaker state transitions": the in-process breaker decides exactly as the model."""
    config, ops = scenario
    assert_same_decisions(config, ops, lambda cfg, clock: MemoryCircuitBreaker("p", config=cfg, clock=clock))


# --- named rules, against the model and the in-process breaker ----------------------------------------------


@pytest.fixture(params=["model", "memory"])
def make(request: pytest.FixtureRequest) -> Factory:
    if request.param == "model":
        return ModelOnClock
    return lambda cfg, clock: MemoryCircuitBreaker("p", config=cfg, clock=clock)


def opened(make: Factory) -> tuple[Breaker, FixedClock]:
    clock = FixedClock()
    b = make(BreakerConfig(), clock)
    for _ in range(5):
        b.record_failure()
    assert b.state() is OPEN
    return b, clock


def test_five_failures_within_30s_open(make: Factory) -> None:
    clock = FixedClock()
    b = make(BreakerConfig(), clock)
    for _ in range(4):
        b.record_failure()
        b.record_success()  # a time window, not consecutive failures: successes do not reset it
        clock.advance(7.5)
    assert b.state() is CLOSED and b.allow()
    b.record_failure()  # 5th failure, exactly 30 s after the first
    assert b.state() is OPEN
    assert not b.allow()


def test_five_failures_spread_over_more_than_30s_do_not_open(make: Factory) -> None:
    clock = FixedClock()
    b = make(BreakerConfig(), clock)
    for _ in range(4):
        b.record_failure()
        clock.advance(7.5)
    clock.advance(0.001)  # 5th failure 30.001 s after the first: the first has left the window
    b.record_failure()
    assert b.state() is CLOSED and b.allow()
    for _ in range(20):  # one failure every 8 s never opens it
        clock.advance(8)
        b.record_failure()
        assert b.state() is CLOSED


def test_open_rejects_for_60s(make: Factory) -> None:
    b, clock = opened(make)
    for _ in range(59):
        clock.advance(1)
        assert not b.allow()
        assert b.state() is OPEN
    clock.advance(0.999)
    assert not b.allow()
    clock.advance(0.001)  # 60 s after opening
    assert b.state() is HALF_OPEN
    assert b.allow()


def test_exactly_three_trials(make: Factory) -> None:
    b, clock = opened(make)
    clock.advance(60)
    assert [b.allow() for _ in range(10)] == [True] * 3 + [False] * 7
    b.record_success()  # a resolved trial does not free a slot: 3 trials in total
    assert not b.allow()
    clock.advance(59.999)  # the two unresolved permits are still outstanding
    assert not b.allow()
    clock.advance(0.001)  # ... now they are taken as lost and re-issued
    assert [b.allow() for _ in range(4)] == [True, True, False, False]


def test_three_successes_close(make: Factory) -> None:
    b, clock = opened(make)
    clock.advance(60)
    assert all(b.allow() for _ in range(3))
    b.record_success()
    b.record_success()
    assert b.state() is HALF_OPEN
    b.record_success()
    assert b.state() is CLOSED
    assert all(b.allow() for _ in range(20))
    for _ in range(4):  # and it forgot the old failures: 5 new ones are needed to open it again
        b.record_failure()
    assert b.state() is CLOSED


def test_failure_in_half_open_reopens_for_another_60s(make: Factory) -> None:
    b, clock = opened(make)
    clock.advance(60)
    assert b.allow() and b.allow()
    b.record_success()
    clock.advance(10)
    b.record_failure()
    assert b.state() is OPEN
    clock.advance(59.999)
    assert not b.allow()
    clock.advance(0.001)
    assert b.state() is HALF_OPEN
    assert [b.allow() for _ in range(4)] == [True, True, True, False]  # a fresh set of trials


def test_results_while_open_are_ignored(make: Factory) -> None:
    b, clock = opened(make)
    b.record_success()
    clock.advance(30)
    b.record_failure()  # does not extend the open period
    clock.advance(30)
    assert b.state() is HALF_OPEN


def test_success_without_a_permit_does_not_count_as_a_trial() -> None:
    model = CircuitBreakerModel()
    for _ in range(5):
        model.record_failure(0.0)
    for _ in range(5):
        model.record_success(60.0)
    assert model.state(60.0) is HALF_OPEN and model.successes == 0


def test_config_is_validated_and_frozen() -> None:
    cfg = BreakerConfig()
    assert (cfg.failures, cfg.window_s, cfg.open_s, cfg.trials) == (5, 30.0, 60.0, 3)
    with pytest.raises(ValueError, match="at least 1"):
        BreakerConfig(trials=0)
    with pytest.raises(ValueError, match="positive"):
        BreakerConfig(open_s=0)
    with pytest.raises(AttributeError):
        cfg.failures = 1  # type: ignore[misc]


# --- GuardedSource ------------------------------------------------------------------------------------------


def row(instance: str) -> RawOffer:
    return RawOffer(
        provider="runpod", instance_type=instance, region="CA", gpu_name="A6000", gpu_count=1, price_per_hour=0.5
    )


class CountingSource:
    def __init__(self, provider: str, error: Exception | None = None, *, after: int = 0) -> None:
        self.provider = provider
        self.error = error
        self.after = after
        self.calls = 0

    def rows(self) -> Iterator[RawOffer | RejectedRow]:
        self.calls += 1
        for i in range(self.after):
            yield row(f"i{i}")
        if self.error is not None:
            raise self.error


def test_breaker_open_is_a_source_error_with_its_own_code() -> None:
    err = BreakerOpen("x")
    assert isinstance(err, SourceError)
    assert err.code == "provider_unavailable"


def test_guarded_source_passes_rows_and_records_success() -> None:
    clock = FixedClock()
    b = MemoryCircuitBreaker("runpod", clock=clock)
    g = guarded(ListSource("runpod", [row("a"), RejectedRow("malformed_row")]), b)
    assert isinstance(g, GuardedSource) and g.provider == "runpod"
    assert len(list(g.rows())) == 2
    for _ in range(5):
        b.record_failure()
    clock.advance(60)
    for _ in range(3):  # the three trials are reads through the guard; their successes close it
        assert len(list(g.rows())) == 2
    assert b.state() is CLOSED


@pytest.mark.parametrize("error", [SourceError("down"), OSError("reset"), TimeoutError("slow")])
def test_guarded_source_records_failures_then_rejects_without_calling(error: Exception) -> None:
    b = MemoryCircuitBreaker("runpod", clock=FixedClock())
    inner = CountingSource("runpod", error, after=2)  # fails half-way: nothing is returned, a failure counts
    g = guarded(inner, b)
    for _ in range(5):
        with pytest.raises(type(error)):
            g.rows()
    with pytest.raises(BreakerOpen) as info:
        g.rows()
    assert info.value.details == {"provider": "runpod"}
    assert inner.calls == 5
    assert b.state() is OPEN


def test_guarded_source_does_not_count_bugs_as_outages() -> None:
    b = MemoryCircuitBreaker("runpod", clock=FixedClock())
    g = guarded(FailingSource("runpod", ValueError("bug")), b)
    for _ in range(6):
        with pytest.raises(ValueError, match="bug"):
            g.rows()
    assert b.state() is CLOSED
