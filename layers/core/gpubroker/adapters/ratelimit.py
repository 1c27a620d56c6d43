"""Per-principal request-rate limits: a sliding log in Redis shared by every Lambda instance, with a per-process
fallback.

**Algorithm: sliding log.** Each principal has one log of the times of its accepted requests; a request at ``now``
first forgets entries at or before ``now - window``, then is accepted only if fewer than ``limit`` remain, and
only an accepted request is logged. So no half-open window ``[s, s + window)`` ever holds more than ``limit``
accepted requests (take the last one accepted in it, at ``a``: the whole window lies in ``(a - window, a]``, which
held fewer than ``limit`` before it). That is exact, for every window and not only aligned ones; a fixed window
lets up to ``2 * limit`` through across a boundary, a sliding counter and GCRA approximate or smooth (GCRA
spaces requests by ``window / limit`` unless given a burst, and with a burst of ``limit`` it can admit more than
``limit`` in some 1-s window). The price is memory: at most ``limit`` entries per principal (1000 for enterprise).
Refused requests are not logged, so a client hammering a full window does not push its own reset further away.

* ``RedisRateLimiter``: the log is **one sorted set**, ``{<prefix>:<principal>}`` (the whole key is the hash tag,
  one key per call, so it is cluster-safe), members scored by **Redis server time** in integer microseconds (the
  script calls ``TIME``; clients' clocks never matter, so instances with skewed clocks share one timeline).
  Every check is **one Lua script call** (``ZREMRANGEBYSCORE``, ``ZCARD``, ``ZADD`` when accepted, ``PEXPIRE``
  of one window, so an idle principal's key vanishes). Numbers cross the Lua/Redis boundary as ``%d`` strings:
  Lua would print a microsecond timestamp with 14 significant digits and lose the last two. A step of the
  server's wall clock makes the log stricter (backwards) or briefly lets up to ``2 * limit`` through (forwards).
* ``MemoryRateLimiter``: the same rules for this process only, thread-safe, on an injected monotonic clock
  (``time.monotonic`` by default; tests pass a fake). Logs of principals idle for a window are swept.
* ``FallbackRateLimiter``: Redis, else memory. **Redis unreachable: fail open onto the per-process limiter.** Any
  ``RedisError``/``OSError`` logs one warning per outage and the request is decided by this process's
  ``MemoryRateLimiter`` (same rules, its own log), so an API call never fails because Redis is down, yet each
  instance still holds each principal to its limit on its own (N warm instances may let up to N times the limit
  through during an outage). For ``retry_s`` (default 5 s) after an error Redis is not tried at all, so an outage
  does not add a socket timeout to every request. Failing closed was rejected: it would turn a cache outage into
  an outage of the whole API. This mirrors ``gpubroker.adapters.breaker``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from gpubroker.domain.plans import WINDOW_S, Decision
from gpubroker.ports import RateLimiter

log = logging.getLogger(__name__)

# KEYS[1] = the principal's log (sorted set: member "<now_us>-<n>", score now_us). ARGV = limit, window_us.
# Returns {allowed (0/1), counted after this request, reset_us (until the oldest counted entry leaves), now_us}.
SLIDING_LOG_LUA = """
local key = KEYS[1]
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now_s = string.format('%d', now)
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now - window))
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  -- unique: within one microsecond the count only grows (nothing of that microsecond is removed)
  redis.call('ZADD', key, now_s, now_s .. '-' .. count)
  redis.call('PEXPIRE', key, string.format('%d', math.ceil(window / 1000) + 1))
  count, allowed = count + 1, 1
end
local reset = window
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
if oldest[2] then reset = tonumber(oldest[2]) + window - now end
return {allowed, count, reset, now}
"""

_US = 1_000_000
_SWEEP_EVERY = 4096


def _window_us(limit: int, window_s: float) -> int:
    if limit < 1:
        raise ValueError("limit must be at least 1")
    window = round(window_s * _US)
    if window < 1:
        raise ValueError("window_s must be at least one microsecond")
    return window


def _decision(allowed: bool, limit: int, count: int, reset_us: int, now_us: int) -> Decision:
    reset_s = reset_us / _US
    return Decision(
        allowed=allowed,
        limit=limit,
        remaining=max(0, limit - count) if allowed else 0,
        reset_s=reset_s,
        retry_after_s=0 if allowed else max(1, math.ceil(reset_s)),
        at_s=now_us / _US,
    )


class MemoryRateLimiter:
    """The sliding log for this process only, thread-safe; ``clock`` returns monotonic seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._logs: dict[str, deque[int]] = {}
        self._lock = threading.Lock()
        self._calls = 0
        self._max_window = 0

    def check(self, principal: str, limit: int, window_s: float = WINDOW_S) -> Decision:
        window = _window_us(limit, window_s)
        with self._lock:
            now = round(self._clock() * _US)
            entries = self._logs.setdefault(principal, deque())
            while entries and entries[0] <= now - window:
                entries.popleft()
            count = len(entries)
            allowed = count < limit
            if allowed:
                entries.append(now)
                count += 1
            reset = entries[0] + window - now if entries else window
            self._max_window = max(self._max_window, window)
            self._calls += 1
            if self._calls % _SWEEP_EVERY == 0:
                self._sweep(now)
        return _decision(allowed, limit, count, reset, now)

    def _sweep(self, now: int) -> None:
        """Forget principals whose newest entry is older than every window used (their log would be empty)."""
        idle = [p for p, entries in self._logs.items() if not entries or entries[-1] <= now - self._max_window]
        for p in idle:
            del self._logs[p]

    def __len__(self) -> int:
        """Principals currently tracked (for tests of the sweep)."""
        with self._lock:
            return len(self._logs)


class RedisRateLimiter:
    """The sliding log in Redis, shared by every instance; see the module docstring. Raises on Redis errors."""

    def __init__(
        self,
        url: str | None = None,
        prefix: str = "rl",
        *,
        client: Redis | None = None,
        socket_timeout: float = 0.5,
    ) -> None:
        if client is None:
            if url is None:
                raise ValueError("give a Redis url or a client")
            client = Redis.from_url(
                url,
                socket_timeout=socket_timeout,
                socket_connect_timeout=socket_timeout,
                retry=Retry(NoBackoff(), 1),  # redis-py retries several times by default; the fallback covers it
            )
        self.prefix = prefix
        self._redis = client
        self._script = client.register_script(SLIDING_LOG_LUA)

    def key(self, principal: str) -> str:
        return f"{{{self.prefix}:{principal}}}"

    def check(self, principal: str, limit: int, window_s: float = WINDOW_S) -> Decision:
        window = _window_us(limit, window_s)
        reply = self._script(keys=[self.key(principal)], args=[limit, window], client=self._redis)
        allowed, count, reset, now = (int(v) for v in reply)
        return _decision(bool(allowed), limit, count, reset, now)

    def close(self) -> None:
        self._redis.close()


class FallbackRateLimiter:
    """``primary`` (Redis) while it answers, else ``fallback`` (this process) for ``retry_s``; see the module
    docstring. ``clock`` (monotonic seconds) only times the retry."""

    def __init__(
        self,
        primary: RateLimiter,
        fallback: MemoryRateLimiter | None = None,
        *,
        retry_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.fallback = fallback or MemoryRateLimiter()
        self._retry_s = retry_s
        self._clock = clock
        self._down_until: float | None = None  # Redis is not tried before this time (after an error)
        self._lock = threading.Lock()

    @property
    def degraded(self) -> bool:
        """True while requests are decided by the in-process fallback (Redis failed recently)."""
        return self._down_until is not None

    def check(self, principal: str, limit: int, window_s: float = WINDOW_S) -> Decision:
        now = self._clock()
        down_until = self._down_until
        if down_until is None or now >= down_until:
            try:
                decision = self.primary.check(principal, limit, window_s)
            except (RedisError, OSError) as exc:
                with self._lock:
                    if self._down_until is None:
                        # redis-py 8's repr() of its errors hides the message ("network:ConnectionError")
                        log.warning(
                            "rate limiter: Redis unreachable, using the in-process limiter for %.0f s: %s: %s",
                            self._retry_s,
                            type(exc).__name__,
                            exc,
                        )
                    self._down_until = now + self._retry_s
            else:
                if down_until is not None:
                    with self._lock:
                        if self._down_until is not None:
                            log.warning("rate limiter: Redis reachable again")
                            self._down_until = None
                return decision
        return self.fallback.check(principal, limit, window_s)


def redis_rate_limiter(url: str, prefix: str = "rl", *, retry_s: float = 5.0) -> FallbackRateLimiter:
    """The production wiring: Redis at ``url``, falling back to this process's limiter while it is unreachable."""
    return FallbackRateLimiter(RedisRateLimiter(url, prefix), retry_s=retry_s)
