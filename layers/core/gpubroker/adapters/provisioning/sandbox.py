"""The ``sandbox`` capacity provider of the local stack: it behaves like a real one, with its state in Redis so
every process (the saga's Lambdas in the local runtime, a test) sees the same instances.

- **Capacity**: a limit of GPUs per GPU model (``capacity``; ``"*"`` for any model not named). A reserve that
  would exceed it is ``NoCapacity``. Checked and taken atomically (one Lua script), so concurrent reserves never
  overbook.
- **Idempotent by key**: a reserve with a key already used returns that key's instance (whatever its status) and
  takes no capacity; 50 concurrent reserves with one key make one instance.
- **Release** is idempotent: an unknown or already terminated instance is success; capacity comes back once.
- **Latency**: every call waits ``latency_s`` (injectable ``sleep``) before it acts, like a provider's API.
- **Its own failures**, by a deterministic rule (``failures``, env ``GPUBROKER_SANDBOX_FAILURES``):
  comma-separated ``op:error[:times][@match]`` with op ``reserve | release | describe``, error ``no_capacity |
  quota | auth | unavailable | timeout``, ``times`` how many calls fail before the rule stops (counted in Redis,
  across processes; omitted: always) and ``match`` a substring the offer id (reserve) or instance id must contain.
  Example: ``reserve:no_capacity@gpu-h100,release:unavailable:1`` (every H100 reserve has no capacity; the first
  release fails once with a 5xx-like error, its retry succeeds).
- ``list_instances()`` lists the live (not terminated) instances: the fault-matrix test asserts none is left.

Redis keys under ``prefix``: ``key:<idempotency key>`` -> instance id, ``inst:<id>`` (hash), ``live`` (set),
``used:<gpu model>`` (GPUs taken), ``fail:<rule>`` (failures spent).
"""

from __future__ import annotations

import os
import time
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from gpubroker.domain.errors import (
    NoCapacity,
    ProviderAuthFailed,
    ProviderUnavailable,
    ProvisioningError,
    QuotaExceeded,
)
from gpubroker.domain.offers import Offer
from gpubroker.domain.provisioning import ConnectionDetails, InstanceStatus, Reservation

PROVIDER = "sandbox"
_OPS = ("reserve", "release", "describe")

# KEYS: key:<k>, inst:<new id>, live, used:<model>   ARGV: new id, gpus, limit, offer id, model, now, key
_RESERVE = """
local existing = redis.call('GET', KEYS[1])
if existing then return {'existing', existing} end
local used = tonumber(redis.call('GET', KEYS[4]) or '0')
local want = tonumber(ARGV[2])
if used + want > tonumber(ARGV[3]) then return {'full', tostring(used)} end
redis.call('INCRBY', KEYS[4], want)
redis.call('HSET', KEYS[2], 'id', ARGV[1], 'gpu_count', ARGV[2], 'offer_id', ARGV[4], 'gpu_model', ARGV[5],
           'created_at', ARGV[6], 'key', ARGV[7], 'status', 'running')
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return {'created', ARGV[1]}
"""
# KEYS: inst:<id>, live   ARGV: prefix
_RELEASE = """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'terminated')
redis.call('SREM', KEYS[2], redis.call('HGET', KEYS[1], 'id'))
redis.call('DECRBY', ARGV[1] .. 'used:' .. redis.call('HGET', KEYS[1], 'gpu_model'),
           tonumber(redis.call('HGET', KEYS[1], 'gpu_count')))
return 1
"""
_ERRORS: dict[str, Callable[[str], ProvisioningError]] = {
    "no_capacity": lambda m: NoCapacity(m, provider=PROVIDER),
    "quota": lambda m: QuotaExceeded(m, provider=PROVIDER),
    "auth": lambda m: ProviderAuthFailed(m, provider=PROVIDER),
    "unavailable": lambda m: ProviderUnavailable(m, provider=PROVIDER, details={"status": 503}),
    "timeout": lambda m: ProviderUnavailable(m, provider=PROVIDER, details={"timed_out": True}),
}


@dataclass(frozen=True)
class FailureRule:
    op: str
    error: str
    times: int | None = None  # None: every matching call
    match: str = ""

    @classmethod
    def parse_all(cls, text: str) -> tuple[FailureRule, ...]:
        rules = []
        for raw in (part.strip() for part in text.split(",")):
            if not raw:
                continue
            body, _, match = raw.partition("@")
            parts = body.split(":")
            if len(parts) not in (2, 3) or parts[0] not in _OPS or parts[1] not in _ERRORS:
                raise ValueError(f"sandbox failure rule {raw!r}: expected op:error[:times][@match]")
            times = int(parts[2]) if len(parts) == 3 else None
            rules.append(cls(parts[0], parts[1], times, match))
        return tuple(rules)

    def spec(self) -> str:
        return f"{self.op}:{self.error}:{self.times}@{self.match}"


class SandboxCapacity:
    provider = PROVIDER

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "gpub:sandbox:",
        capacity: Mapping[str, int] | None = None,
        latency_s: float = 0.0,
        failures: tuple[FailureRule, ...] = (),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._r = redis
        self._p = prefix
        self._capacity = dict(capacity or {"*": 8})
        self._latency_s = latency_s
        self._failures = failures
        self._sleep = sleep
        self._clock = clock
        self._reserve = redis.register_script(_RESERVE)
        self._release = redis.register_script(_RELEASE)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **kw: Any) -> SandboxCapacity:
        """``GPUBROKER_SANDBOX_REDIS_URL`` (else ``REDIS_URL``, else redis://127.0.0.1:6379/0),
        ``GPUBROKER_SANDBOX_CAPACITY`` (``A100=2,H100=1,*=4``), ``GPUBROKER_SANDBOX_LATENCY_MS``,
        ``GPUBROKER_SANDBOX_FAILURES`` (rules, see the module), ``GPUBROKER_SANDBOX_PREFIX``."""
        url = environ.get("GPUBROKER_SANDBOX_REDIS_URL") or environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
        capacity = {}
        for part in (environ.get("GPUBROKER_SANDBOX_CAPACITY") or "*=8").split(","):
            model, _, count = part.strip().partition("=")
            if model:
                capacity[model] = int(count)
        return cls(
            Redis.from_url(url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2),
            prefix=environ.get("GPUBROKER_SANDBOX_PREFIX") or "gpub:sandbox:",
            capacity=capacity,
            latency_s=int(environ.get("GPUBROKER_SANDBOX_LATENCY_MS") or 0) / 1000,
            failures=FailureRule.parse_all(environ.get("GPUBROKER_SANDBOX_FAILURES") or ""),
            **kw,
        )

    # -- the port -----------------------------------------------------------------------------------------------
    def reserve(self, offer: Offer, *, gpu_count: int, idempotency_key: str) -> Reservation:
        self._act("reserve", offer.offer_id)
        limit = self._capacity.get(offer.gpu_model, self._capacity.get("*", 0))
        new_id = "sbx-" + uuid.uuid4().hex[:16]
        keys = [self._k("key:" + idempotency_key), self._k("inst:" + new_id), self._k("live"),
                self._k("used:" + offer.gpu_model)]  # fmt: skip
        args: list[str | int | float] = [
            new_id, gpu_count, limit, offer.offer_id, offer.gpu_model, self._clock(), idempotency_key
        ]  # fmt: skip
        outcome, value = self._redis(lambda: self._reserve(keys=keys, args=args))
        if outcome == "full":
            raise NoCapacity(
                f"sandbox: no {offer.gpu_model} capacity ({value} of {limit} GPUs taken, {gpu_count} asked)",
                provider=PROVIDER,
                details={"gpu_model": offer.gpu_model, "limit": limit},
            )
        return self._describe(str(value))

    def release(self, instance_id: str) -> None:
        self._act("release", instance_id)
        self._redis(lambda: self._release(keys=[self._k("inst:" + instance_id), self._k("live")], args=[self._p]))

    def describe(self, instance_id: str) -> Reservation:
        self._act("describe", instance_id)
        return self._describe(instance_id)

    # -- for tests and the local stack --------------------------------------------------------------------------
    def list_instances(self) -> list[Reservation]:
        """The live instances (every process's), oldest first."""
        ids = self._redis(lambda: self._r.smembers(self._k("live")))
        found = [self._describe(i) for i in ids]
        return sorted(found, key=lambda r: r.instance_id)

    def used(self, gpu_model: str) -> int:
        return int(self._redis(lambda: self._r.get(self._k("used:" + gpu_model))) or 0)

    # -- internals ----------------------------------------------------------------------------------------------
    def _k(self, suffix: str) -> str:
        return self._p + suffix

    def _act(self, op: str, subject: str) -> None:
        if self._latency_s > 0:
            self._sleep(self._latency_s)
        for index, rule in enumerate(self._failures):
            if rule.op != op or rule.match not in subject:
                continue
            if rule.times is not None and self._spend(self._k(f"fail:{index}:{rule.spec()}")) > rule.times:
                continue
            raise _ERRORS[rule.error](f"sandbox: injected {rule.error} on {op} ({rule.spec()})")

    def _spend(self, counter: str) -> int:
        return int(self._redis(lambda: self._r.incr(counter)))

    def _describe(self, instance_id: str) -> Reservation:
        row: dict[str, str] = self._redis(lambda: self._r.hgetall(self._k("inst:" + instance_id)))
        if not row:
            return Reservation(PROVIDER, instance_id, InstanceStatus.TERMINATED)
        status = InstanceStatus.RUNNING if row.get("status") == "running" else InstanceStatus.TERMINATED
        port = 20000 + zlib.crc32(instance_id.encode()) % 10000
        return Reservation(
            PROVIDER,
            instance_id,
            status,
            idempotency_key=row.get("key"),
            connection=ConnectionDetails(host="127.0.0.1", port=port, user="sandbox"),
        )

    def _redis(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except RedisError as exc:
            raise ProviderUnavailable(
                f"sandbox: state store unreachable ({type(exc).__name__})", provider=PROVIDER
            ) from None
