"""Circuit breakers per provider: shared through Redis by every Lambda instance, with a per-process fallback.

The rules are those of ``gpubroker.domain.breaker.CircuitBreakerModel`` (read its docstring); this module only
runs them somewhere:

* ``RedisCircuitBreaker``: the whole state of one breaker is **one Redis hash**, ``<key_prefix>{breaker:<name>}``
  (hash-tagged, so it is cluster-safe), fields ``state``, ``opened_at``, ``successes``, ``failures`` and
  ``permits`` (the last two: space-separated timestamps). Every operation is **one Lua script call** (atomic, so
  half-open hands out at most ``trials`` permits in total across all instances). The time is the caller's
  ``clock``, passed to the script as an argument (never Redis ``TIME``), so tests inject it and every instance
  applies the same rules; timestamps are stored as the strings the caller sent, so Lua and Python do the same
  float arithmetic. A breaker that closes deletes its key; any other write sets ``PEXPIRE idle_ttl_s`` (default
  600 s, at least ``open_s + window_s``), so an idle breaker vanishes and starts over closed.
  Permits carry no id: a trial permit not resolved within ``open_s`` is taken as lost and issued again.
* ``MemoryCircuitBreaker``: the model behind a lock, on the same clock. It is the fallback.

**Redis unreachable: fail open onto the per-process breaker.** Any ``RedisError``/``OSError`` from a breaker call
logs one warning per outage and the call is answered by this process's ``MemoryCircuitBreaker`` (same rules, its
own state), so a provider call never fails because Redis is down, yet a provider that keeps failing is still cut
off after 5 failures by each instance on its own. For ``redis_retry_s`` (default 5 s) after an error Redis is not
tried at all, so an outage does not add a socket timeout to every provider call. Give the client a short
``socket_timeout``/``socket_connect_timeout`` and few retries (redis-py's default ``Retry`` retries 10 times).
Failing closed was rejected: it would turn a cache outage into an outage of every provider.

``GuardedSource`` (``guarded(source, breaker)``) puts a breaker in front of an ``OfferSource``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from redis import Redis
from redis.exceptions import RedisError

from gpubroker.adapters.clock import SystemClock
from gpubroker.domain.breaker import BreakerConfig, BreakerOpen, BreakerState, CircuitBreakerModel
from gpubroker.domain.errors import SourceError
from gpubroker.domain.offers import RawOffer, RejectedRow
from gpubroker.observability import count, publish
from gpubroker.ports import Clock, OfferSource

log = logging.getLogger(__name__)

# KEYS[1] = the breaker hash. ARGV = op, now, failures, window_s, open_s, trials, idle_ttl_ms.
# Returns {allowed (0/1), state}. Mirrors CircuitBreakerModel line for line.
BREAKER_LUA = """
local key = KEYS[1]
local op, now_s = ARGV[1], ARGV[2]
local now = tonumber(now_s)
local max_failures, window, open_s, trials = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local ttl_ms = tonumber(ARGV[7])

local function split(s)
  local t = {}
  if s then for w in string.gmatch(s, '%S+') do t[#t + 1] = w end end
  return t
end

local h = redis.call('HMGET', key, 'state', 'opened_at', 'successes', 'failures', 'permits')
local state = h[1] or 'closed'
local opened_at = h[2] or ''
local successes = tonumber(h[3] or '0')
local failures, permits = split(h[4]), split(h[5])
local dirty = false

-- tick: forget old failures, end the open period, drop lost permits
if state == 'closed' then
  local kept = {}
  for _, t in ipairs(failures) do if now - tonumber(t) <= window then kept[#kept + 1] = t end end
  if #kept ~= #failures then dirty = true end
  failures = kept
elseif state == 'open' then
  if now >= tonumber(opened_at) + open_s then
    state, permits, successes, dirty = 'half_open', {}, 0, true
  end
end
if state == 'half_open' then
  local kept = {}
  for _, t in ipairs(permits) do if now - tonumber(t) < open_s then kept[#kept + 1] = t end end
  if #kept ~= #permits then dirty = true end
  permits = kept
end

local function open()
  state, opened_at, failures, permits, successes, dirty = 'open', now_s, {}, {}, 0, true
end

local allowed = 0
if op == 'allow' then
  if state == 'closed' then
    allowed = 1
  elseif state == 'half_open' and successes + #permits < trials then
    permits[#permits + 1] = now_s
    allowed, dirty = 1, true
  end
elseif op == 'success' then
  if state == 'half_open' and #permits > 0 then
    table.remove(permits, 1)
    successes, dirty = successes + 1, true
    if successes >= trials then
      state, opened_at, failures, permits, successes = 'closed', '', {}, {}, 0
    end
  end
elseif op == 'failure' then
  if state == 'closed' then
    failures[#failures + 1] = now_s
    dirty = true
    if #failures >= max_failures then open() end
  elseif state == 'half_open' then
    open()
  end
end

if dirty then
  if state == 'closed' and #failures == 0 then
    redis.call('DEL', key)
  else
    redis.call('HSET', key, 'state', state, 'opened_at', opened_at, 'successes', successes,
      'failures', table.concat(failures, ' '), 'permits', table.concat(permits, ' '))
    redis.call('PEXPIRE', key, ttl_ms)
  end
end
return {allowed, state}
"""


class CircuitBreaker(Protocol):
    def allow(self) -> bool: ...

    def record_success(self) -> None: ...

    def record_failure(self) -> None: ...


def _seconds(clock: Clock) -> float:
    return clock.now().timestamp()


class MemoryCircuitBreaker:
    """The reference rules for this process only, thread-safe. Also the fallback of ``RedisCircuitBreaker`` (which
    reports for it: ``reports=False``)."""

    def __init__(
        self, name: str, *, config: BreakerConfig | None = None, clock: Clock | None = None, reports: bool = True
    ) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self._clock: Clock = clock or SystemClock()
        self._model = CircuitBreakerModel(self.config)
        self._lock = threading.Lock()
        self.reports = reports

    def allow(self) -> bool:
        with self._lock:
            now = _seconds(self._clock)
            allowed, state = self._model.allow(now), self._model.state(now)
        if self.reports:
            report_state(self.name, state)
        return allowed

    def record_success(self) -> None:
        with self._lock:
            self._model.record_success(_seconds(self._clock))

    def record_failure(self) -> None:
        with self._lock:
            now = _seconds(self._clock)
            before = self._model.state(now)
            self._model.record_failure(now)
            opened = before is not BreakerState.OPEN and self._model.state(now) is BreakerState.OPEN
        if opened and self.reports:
            count("BreakerOpened", breaker=self.name)

    def state(self) -> BreakerState:
        with self._lock:
            return self._model.state(_seconds(self._clock))


def report_state(name: str, state: BreakerState) -> None:
    """``BreakerOpen`` (1 while open, else 0) per breaker and for the service, at each guarded call: its maximum
    over 15 minutes is the ``BreakerOpenAlarm`` of template.yaml."""
    publish({"BreakerOpen": (MetricUnit.Count, 1.0 if state is BreakerState.OPEN else 0.0)},
            dimensions={"breaker": name}, rollups=[{}])  # fmt: skip


class RedisCircuitBreaker:
    """One provider's breaker, shared by every instance through Redis; see the module docstring."""

    def __init__(
        self,
        redis_client: Redis,
        name: str,
        *,
        config: BreakerConfig | None = None,
        clock: Clock | None = None,
        key_prefix: str = "",
        idle_ttl_s: float = 600.0,
        redis_retry_s: float = 5.0,
        fallback: MemoryCircuitBreaker | None = None,
    ) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        if idle_ttl_s < self.config.open_s + self.config.window_s:
            raise ValueError("idle_ttl_s must be at least open_s + window_s")
        self.key = f"{key_prefix}{{breaker:{name}}}"
        self._clock: Clock = clock or SystemClock()
        self._redis = redis_client
        self._script = redis_client.register_script(BREAKER_LUA)
        self._ttl_ms = int(idle_ttl_s * 1000)
        self._retry_s = redis_retry_s
        self._down_until: float | None = None  # Redis is not tried before this time (after an error)
        self.fallback = fallback or MemoryCircuitBreaker(name, config=self.config, clock=self._clock, reports=False)

    @property
    def degraded(self) -> bool:
        """True while calls are answered by the in-process fallback (Redis failed recently)."""
        return self._down_until is not None

    def allow(self) -> bool:
        allowed, state = self._run("allow")
        report_state(self.name, state)
        return allowed

    def record_success(self) -> None:
        self._run("success")

    def record_failure(self) -> None:
        if self._run("failure")[1] is BreakerState.OPEN:
            count("BreakerOpened", breaker=self.name)

    def state(self) -> BreakerState:
        return self._run("state")[1]

    def _run(self, op: str) -> tuple[bool, BreakerState]:
        now = _seconds(self._clock)
        down_until = self._down_until
        if down_until is None or now >= down_until:
            try:
                allowed, state = self._call(op, now)
            except (RedisError, OSError) as exc:
                if down_until is None:
                    log.warning(
                        "circuit breaker %s: Redis unreachable, using the in-process breaker: %r", self.name, exc
                    )
                self._down_until = now + self._retry_s
            else:
                if down_until is not None:
                    log.warning("circuit breaker %s: Redis reachable again", self.name)
                    self._down_until = None
                return allowed, state
        return self._local(op)

    def _call(self, op: str, now: float) -> tuple[bool, BreakerState]:
        cfg = self.config
        args: list[Any] = [op, repr(now), cfg.failures, repr(cfg.window_s), repr(cfg.open_s), cfg.trials]
        args.append(self._ttl_ms)
        reply = self._script(keys=[self.key], args=args, client=self._redis)
        allowed, state = reply
        return bool(allowed), BreakerState(state.decode() if isinstance(state, bytes) else state)

    def _local(self, op: str) -> tuple[bool, BreakerState]:
        fb = self.fallback
        if op == "allow":
            return fb.allow(), fb.state()
        if op == "success":
            fb.record_success()
        elif op == "failure":
            fb.record_failure()
        return False, fb.state()


class GuardedSource:
    """An ``OfferSource`` behind a breaker: rejected with ``BreakerOpen`` while open; a read counts as one call.

    The inner rows are read in full before returning (a failure half-way through counts as a failure, not as a
    success); ``SourceError``, ``OSError`` and ``TimeoutError`` are recorded as failures and re-raised. Any other
    exception is a bug, not a provider outage: it is re-raised unrecorded (a trial permit it held is re-issued
    after ``open_s``).
    """

    def __init__(self, source: OfferSource, breaker: CircuitBreaker) -> None:
        self.provider = source.provider
        self._source = source
        self._breaker = breaker

    def rows(self) -> Iterator[RawOffer | RejectedRow]:
        if not self._breaker.allow():
            raise BreakerOpen(
                f"provider {self.provider} is unavailable (circuit breaker open)",
                details={"provider": self.provider},
            )
        try:
            items = list(self._source.rows())
        except (SourceError, OSError, TimeoutError):
            self._breaker.record_failure()
            raise
        self._breaker.record_success()
        return iter(items)


def guarded(source: OfferSource, breaker: CircuitBreaker) -> GuardedSource:
    return GuardedSource(source, breaker)
