"""Rate limits: the sliding-log rules (in-memory limiter, injected clock), the Redis fallback switch and the
REST middleware (principal, plan, headers, 429 body) on a small resolver fed hand-built REST proxy events."""

from __future__ import annotations

import bisect
import json
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.exceptions import ConnectionError as RedisConnectionError

from gpubroker.adapters.ratelimit import FallbackRateLimiter, MemoryRateLimiter
from gpubroker.api.deps import ApiDeps, FrontDoor
from gpubroker.api.ratelimit import rate_limit_headers
from gpubroker.api.resolver import new_resolver
from gpubroker.domain.plans import RATE_LIMITS, Decision, Plan, plan_of
from tests.events import Ctx, rest_event


class FakeClock:
    """Monotonic seconds that only move when told."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(clock: FakeClock) -> MemoryRateLimiter:
    return MemoryRateLimiter(clock)


# --- plans ------------------------------------------------------------------------------------------------------


def test_plan_limits() -> None:
    assert RATE_LIMITS == {"free": 10, "pro": 100, "enterprise": 1000}
    assert [RATE_LIMITS[p] for p in Plan] == [10, 100, 1000]


@pytest.mark.parametrize(
    ("value", "plan"),
    [("pro", Plan.PRO), ("Enterprise", Plan.ENTERPRISE), ("free", Plan.FREE), ("gold", Plan.FREE), (None, Plan.FREE)],
)
def test_plan_of_defaults_to_free(value: object, plan: Plan) -> None:
    assert plan_of(value) is plan


# --- the sliding log ----------------------------------------------------------------------------------------------


def test_limit_then_refuse_with_remaining_and_retry_after(limiter: MemoryRateLimiter, clock: FakeClock) -> None:
    got = [limiter.check("p", 3) for _ in range(3)]
    assert [d.allowed for d in got] == [True, True, True]
    assert [d.remaining for d in got] == [2, 1, 0]
    assert all(d.retry_after_s == 0 and d.reset_s == 1.0 for d in got)
    clock.advance(0.25)
    refused = limiter.check("p", 3)
    assert (refused.allowed, refused.limit, refused.remaining, refused.retry_after_s) == (False, 3, 0, 1)
    assert refused.reset_s == pytest.approx(0.75) and refused.at_s == pytest.approx(1000.25)


def test_an_entry_leaves_exactly_one_window_later(limiter: MemoryRateLimiter, clock: FakeClock) -> None:
    assert limiter.check("p", 1).allowed
    clock.advance(0.999999)
    assert not limiter.check("p", 1).allowed
    clock.advance(0.000001)
    assert limiter.check("p", 1).allowed


def test_sliding_not_fixed_window(limiter: MemoryRateLimiter, clock: FakeClock) -> None:
    """Three at the end of one second and none at the start of the next: a fixed window would allow 3 more."""
    clock.advance(0.9)
    assert all(limiter.check("p", 3).allowed for _ in range(3))
    clock.advance(0.2)
    assert not limiter.check("p", 3).allowed
    clock.advance(0.8)
    assert limiter.check("p", 3).allowed


def test_refusals_are_not_counted(limiter: MemoryRateLimiter, clock: FakeClock) -> None:
    assert limiter.check("p", 2).allowed and limiter.check("p", 2).allowed
    for _ in range(50):
        clock.advance(0.01)
        assert not limiter.check("p", 2).allowed
    clock.advance(0.5)  # 1.0 s after the two accepted requests
    assert limiter.check("p", 2).allowed


def test_retry_after_is_enough(limiter: MemoryRateLimiter, clock: FakeClock) -> None:
    for window in (1.0, 2.5):
        principal = f"p{window}"
        for _ in range(4):
            limiter.check(principal, 4, window)
            clock.advance(0.1)
        refused = limiter.check(principal, 4, window)
        assert not refused.allowed
        assert isinstance(refused.retry_after_s, int) and refused.retry_after_s >= 1
        assert refused.retry_after_s == max(1, -(-refused.reset_s // 1))
        clock.advance(refused.retry_after_s)
        assert limiter.check(principal, 4, window).allowed


def test_principals_are_independent(limiter: MemoryRateLimiter) -> None:
    assert all(limiter.check("a", 5).allowed for _ in range(5))
    assert not limiter.check("a", 5).allowed
    assert limiter.check("b", 5).allowed


def test_idle_principals_are_swept(limiter: MemoryRateLimiter, clock: FakeClock) -> None:
    for i in range(4000):
        limiter.check(f"ip:{i}", 10)
    assert len(limiter) == 4000
    clock.advance(1.0)
    for _ in range(96):  # the 4096th call sweeps
        limiter.check("active", 1000)
    assert len(limiter) == 1


def test_invalid_limits_are_refused(limiter: MemoryRateLimiter) -> None:
    with pytest.raises(ValueError, match="limit"):
        limiter.check("p", 0)
    with pytest.raises(ValueError, match="window"):
        limiter.check("p", 1, 0.0)


def max_in_any_window(times_us: list[int], window_us: int) -> int:
    """The most timestamps in any half-open window [t, t + window); windows starting at each timestamp suffice."""
    ordered = sorted(times_us)
    return max((bisect.bisect_left(ordered, t + window_us) - i for i, t in enumerate(ordered)), default=0)


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(1, 6),
    window_ms=st.sampled_from([1000, 250, 2500]),
    gaps_us=st.lists(st.integers(0, 400_000), min_size=1, max_size=120),
)
def test_sliding_log_is_exact(limit: int, window_ms: int, gaps_us: list[int]) -> None:
    """Property: accepted in every window <= limit, and a request is refused only when exactly ``limit``
    accepted requests lie in (now - window, now] (the limiter never refuses what the limit allows)."""
    clock = FakeClock(0.0)
    rl = MemoryRateLimiter(clock)
    window_us = window_ms * 1000
    now_us, accepted = 0, list[int]()
    for gap in gaps_us:
        now_us += gap
        clock.t = now_us / 1_000_000
        d = rl.check("p", limit, window_ms / 1000)
        in_window = sum(1 for t in accepted if t > now_us - window_us)
        assert d.allowed == (in_window < limit)
        if d.allowed:
            accepted.append(now_us)
            assert d.remaining == limit - in_window - 1
        else:
            assert d.remaining == 0 and d.retry_after_s >= 1
    assert max_in_any_window(accepted, window_us) <= limit


# --- Redis fallback -----------------------------------------------------------------------------------------------


class FlakyPrimary:
    """A RateLimiter that is down while ``down`` is set, counting its calls; else answers like a fresh limiter."""

    def __init__(self, clock: FakeClock) -> None:
        self.down = True
        self.calls = 0
        self.inner = MemoryRateLimiter(clock)

    def check(self, principal: str, limit: int, window_s: float = 1.0) -> Decision:
        self.calls += 1
        if self.down:
            raise RedisConnectionError("Connection refused")
        return self.inner.check(principal, limit, window_s)


def test_fallback_warns_once_limits_in_memory_and_retries_redis_after_5s(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    primary = FlakyPrimary(clock)
    rl = FallbackRateLimiter(primary, MemoryRateLimiter(clock), clock=clock)
    with caplog.at_level(logging.WARNING, logger="gpubroker.adapters.ratelimit"):
        got = [rl.check("p", 3).allowed for _ in range(5)]
    assert got == [True, True, True, False, False]  # still limited, by the in-process log
    assert rl.degraded and primary.calls == 1  # not tried again within 5 s
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Redis unreachable" in warnings[0].getMessage()

    clock.advance(4.9)
    rl.check("p", 3)
    assert primary.calls == 1
    clock.advance(0.1)  # 5 s after the error: tried again, still down, no second warning
    rl.check("p", 3)
    assert primary.calls == 2 and len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1

    primary.down = False
    clock.advance(5.0)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gpubroker.adapters.ratelimit"):
        assert rl.check("p", 3).allowed
    assert not rl.degraded and primary.calls == 3
    assert "reachable again" in caplog.records[0].getMessage()


# --- the middleware -----------------------------------------------------------------------------------------------


@pytest.fixture
def hits() -> list[str]:
    """Requests the route itself served."""
    return []


class Served:
    """A resolver served as ``api_handler`` serves it: the function's ``Deps`` (here only its front door, which
    new_resolver installs on every route) in the context of each request."""

    def __init__(self, app: Any, door: FrontDoor) -> None:
        self.app, self.door = app, door

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.app.append_context(deps=ApiDeps(front_door=self.door))
        result: dict[str, Any] = self.app.resolve(event, context)
        return result


@pytest.fixture
def app(limiter: MemoryRateLimiter, hits: list[str]) -> Any:
    app = new_resolver()

    @app.get("/ping")
    def ping() -> dict[str, bool]:
        hits.append("ping")
        return {"ok": True}

    return Served(app, FrontDoor(limiter=limiter))


def call(app: Any, *, ip: str = "203.0.113.7", authorizer: dict[str, Any] | None = None) -> dict[str, Any]:
    ev = rest_event("/ping", "/ping")
    ev["requestContext"]["identity"]["sourceIp"] = ip
    if authorizer is not None:
        ev["requestContext"]["authorizer"] = authorizer
    result: dict[str, Any] = app.resolve(ev, Ctx())
    return result


def header(resp: dict[str, Any], name: str) -> str:
    values = resp.get("multiValueHeaders") or {k: [v] for k, v in (resp.get("headers") or {}).items()}
    (value,) = values[name]
    return str(value)


def test_allowed_responses_carry_ratelimit_headers(app: Any) -> None:
    first = call(app)
    assert first["statusCode"] == 200 and json.loads(first["body"]) == {"ok": True}
    assert header(first, "RateLimit-Policy") == '"default";q=10;w=1'
    assert header(first, "RateLimit") == '"default";r=9;t=1'
    assert "Retry-After" not in (first.get("multiValueHeaders") or {})


def test_anonymous_callers_are_limited_by_ip_at_the_free_rate(app: Any, clock: FakeClock, hits: list[str]) -> None:
    assert [call(app)["statusCode"] for _ in range(10)] == [200] * 10
    clock.advance(0.4)
    refused = call(app)
    assert refused["statusCode"] == 429
    assert len(hits) == 10  # the route never ran for the refused request
    assert json.loads(refused["body"]) == {
        "error": {
            "code": "rate_limited",
            "message": "rate limit exceeded: 10 requests per 1 s for this caller; retry after 1 s",
            "details": {"limit": 10, "retry_after": 1},
        }
    }
    retry_after = header(refused, "Retry-After")
    assert retry_after.isdigit() and int(retry_after) >= 1
    assert header(refused, "RateLimit-Policy") == '"default";q=10;w=1'
    assert header(refused, "RateLimit") == '"default";r=0;t=1'
    assert header(refused, "Content-Type") == "application/json"
    assert call(app, ip="198.51.100.1")["statusCode"] == 200  # another IP has its own budget
    clock.advance(0.6)
    assert call(app)["statusCode"] == 200


@pytest.mark.parametrize("plan", ["free", "pro", "enterprise"])
def test_signed_in_callers_get_their_plan_rate(app: Any, plan: str) -> None:
    limit = RATE_LIMITS[plan]
    auth = {"user_id": f"u-{plan}", "plan": plan, "principalId": "x"}
    statuses = [call(app, authorizer=auth)["statusCode"] for _ in range(limit)]
    assert statuses == [200] * limit
    refused = call(app, authorizer=auth)
    assert refused["statusCode"] == 429
    assert header(refused, "RateLimit-Policy") == f'"default";q={limit};w=1'
    assert json.loads(refused["body"])["error"]["details"] == {"limit": limit, "retry_after": 1}
    # the same IP without the user is another principal
    assert call(app)["statusCode"] == 200


def test_users_are_limited_per_user_not_per_ip(app: Any) -> None:
    auth = {"user_id": "u1", "plan": "free"}
    for i in range(10):
        assert call(app, ip=f"10.0.0.{i}", authorizer=auth)["statusCode"] == 200
    assert call(app, ip="10.0.0.99", authorizer=auth)["statusCode"] == 429
    assert call(app, authorizer={"user_id": "u2", "plan": "free"})["statusCode"] == 200


def test_unknown_or_missing_plan_is_free(app: Any) -> None:
    for auth in ({"user_id": "u-gold", "plan": "gold"}, {"user_id": "u-none"}):
        first = call(app, authorizer=auth)
        assert header(first, "RateLimit-Policy") == '"default";q=10;w=1'


def test_authorizer_without_user_is_anonymous(app: Any) -> None:
    for _ in range(10):
        call(app, ip="192.0.2.5", authorizer={"principalId": "anonymous", "plan": "enterprise"})
    assert call(app, ip="192.0.2.5")["statusCode"] == 429


def test_retry_after_rounds_up_for_longer_windows(clock: FakeClock) -> None:
    resolver = new_resolver()

    @resolver.get("/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    app = Served(resolver, FrontDoor(limiter=MemoryRateLimiter(clock), window_s=2.5))

    for _ in range(10):
        assert call(app)["statusCode"] == 200
    clock.advance(0.2)
    refused = call(app)
    assert header(refused, "Retry-After") == "3"  # 2.3 s rounded up
    assert header(refused, "RateLimit-Policy") == '"default";q=10;w=2.5'
    assert header(refused, "RateLimit") == '"default";r=0;t=3'


def test_headers_never_announce_a_zero_reset() -> None:
    d = Decision(allowed=True, limit=10, remaining=3, reset_s=0.0004, retry_after_s=0)
    assert rate_limit_headers(d)["RateLimit"] == '"default";r=3;t=1'


# --- the front door names a public route's caller from a bearer token ----------------------------------------------


def _identity() -> Any:
    from gpubroker.domain.tokens import PublishedKeys
    from gpubroker.services.identity import IdentityDeps
    from tests.fakes import FixedClock
    from tests.unit.test_tokens import NOW, POLICY, RING

    return IdentityDeps(keys=PublishedKeys.from_jwks(RING.jwks()), policy=POLICY, clock=FixedClock(NOW))


def _bearer_call(app: Any, token: str, fingerprint: str, ip: str = "203.0.113.7") -> dict[str, Any]:
    ev = rest_event("/ping", "/ping")
    ev["requestContext"]["identity"]["sourceIp"] = ip
    ev["headers"] = {"Authorization": f"Bearer {token}", "Cookie": f"__Host-gpb_fgp={fingerprint}"}
    ev["multiValueHeaders"] = {k: [v] for k, v in ev["headers"].items()}
    result: dict[str, Any] = app.resolve(ev, Ctx())
    return result


@pytest.fixture
def public_app(limiter: MemoryRateLimiter) -> Any:
    app = new_resolver()

    @app.get("/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    return Served(app, FrontDoor(limiter=limiter, identity=_identity))


def test_a_valid_bearer_token_on_a_public_route_gets_its_plan_rate(public_app: Any) -> None:
    from gpubroker.domain.tokens import issue
    from tests.unit.test_tokens import FP, NOW, POLICY, RING

    token, _ = issue("access", ring=RING, policy=POLICY, now=NOW, subject="u-pro", family="f1", fingerprint=FP,
                     extra={"plan": "pro", "roles": ["user"]})  # fmt: skip
    answers = [_bearer_call(public_app, token, FP)["statusCode"] for _ in range(100)]
    assert answers == [200] * 100
    refused = _bearer_call(public_app, token, FP)
    assert refused["statusCode"] == 429 and header(refused, "RateLimit-Policy") == '"default";q=100;w=1'
    # the same IP without the token is another principal, with the anonymous (free) budget of its own
    assert header(call(public_app), "RateLimit-Policy") == '"default";q=10;w=1'


@pytest.mark.parametrize("name", ["expired", "wrong fingerprint", "signed with another key", "tampered payload"])
def test_a_bad_bearer_token_on_a_public_route_is_anonymous_not_refused(public_app: Any, name: str) -> None:
    from tests.unit.test_tokens import MATRIX

    token, _, fingerprint, _ = MATRIX[name]
    first = _bearer_call(public_app, token, fingerprint or "none", ip="198.51.100.77")
    assert first["statusCode"] == 200 and header(first, "RateLimit-Policy") == '"default";q=10;w=1'
    for _ in range(9):
        _bearer_call(public_app, token, fingerprint or "none", ip="198.51.100.77")
    assert call(public_app, ip="198.51.100.77")["statusCode"] == 429  # it spent that IP's anonymous budget


@pytest.mark.parametrize(("code", "status"), [("ProvisionedThroughputExceededException", 503),
                                              ("ThrottlingException", 503), ("ValidationException", 500)])  # fmt: skip
def test_an_aws_throttle_left_after_the_sdk_retries_is_a_503_with_retry_after(code: str, status: int) -> None:
    """make chaos, "DynamoDB throttling": a throttle is transient (503, Retry-After), any other AWS error a 500."""
    from botocore.exceptions import ClientError

    resolver = new_resolver()

    @resolver.get("/ping")
    def ping() -> dict[str, bool]:
        raise ClientError({"Error": {"Code": code, "Message": "slow down"}}, "Query")

    answer = call(Served(resolver, FrontDoor(limiter=MemoryRateLimiter(FakeClock()))))
    assert answer["statusCode"] == status
    assert json.loads(answer["body"])["error"]["code"] == ("unavailable" if status == 503 else "internal_error")
    if status == 503:
        assert header(answer, "Retry-After") == "1"
