"""The per-user daily budget of language-model calls (``domain.plans.LLM_DAILY_CALLS``).

* ``RedisLlmBudget``: one counter per user per UTC day, ``<prefix>:{<user_id>}:<YYYYMMDD>`` (hash-tagged by
  user), counted by one Lua call (``INCR``; the first call of the day sets a 2-day expiry, so old days vanish).
  A call past the limit is refused and stays counted (the day is over budget anyway). The day is the caller's
  clock (UTC), injectable. **Redis unreachable: fail closed** (``BudgetUnavailable``: the caller answers with
  the rules engine): a call costs money, and the rules engine still answers. This differs on purpose from the
  rate limiter and the breaker, which fail open because refusing there would refuse service.
* ``MemoryLlmBudget``: the same rules for this process (the local stack without Redis, unit tests).
"""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from gpubroker.adapters.clock import SystemClock
from gpubroker.domain.llm import BudgetUnavailable
from gpubroker.ports import Clock

TTL_S = 2 * 86_400
BUDGET_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


def _day(clock: Clock) -> str:
    return clock.now().astimezone(UTC).strftime("%Y%m%d")


class RedisLlmBudget:
    def __init__(
        self, redis_url: str, prefix: str = "llm", *, clock: Clock | None = None, socket_timeout: float = 0.5
    ) -> None:
        self._redis = Redis.from_url(
            redis_url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )
        self._script = self._redis.register_script(BUDGET_LUA)
        self._prefix = prefix
        self._clock: Clock = clock or SystemClock()

    def key(self, user_id: str) -> str:
        return f"{self._prefix}:{{{user_id}}}:{_day(self._clock)}"

    def take(self, user_id: str, limit: int) -> bool:
        try:
            count = int(self._script(keys=[self.key(user_id)], args=[TTL_S], client=self._redis))
        except (RedisError, OSError) as exc:
            raise BudgetUnavailable(f"the call budget cannot be counted ({type(exc).__name__})") from None
        return count <= limit

    def give_back(self, user_id: str) -> None:
        with contextlib.suppress(RedisError, OSError):  # else one call too many counted today: harmless
            self._redis.decr(self.key(user_id))

    def used(self, user_id: str) -> int:
        try:
            value = self._redis.get(self.key(user_id))
        except (RedisError, OSError) as exc:
            raise BudgetUnavailable(f"the call budget cannot be read ({type(exc).__name__})") from None
        return int(str(value)) if value is not None else 0


class MemoryLlmBudget:
    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or SystemClock()
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def take(self, user_id: str, limit: int) -> bool:
        key = (user_id, _day(self._clock))
        with self._lock:
            if len(self._counts) > 100_000:  # a long-lived process: forget earlier days
                self._counts = {k: v for k, v in self._counts.items() if k[1] == key[1]}
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key] <= limit

    def give_back(self, user_id: str) -> None:
        key = (user_id, _day(self._clock))
        with self._lock:
            if self._counts.get(key, 0) > 0:
                self._counts[key] -= 1

    def used(self, user_id: str) -> int:
        with self._lock:
            return self._counts.get((user_id, _day(self._clock)), 0)
