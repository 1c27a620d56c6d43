"""What the API functions share: the front door (plan rate limits, and the token check that names a public route's
caller), the audit trail of mutating routes, the system clock, the live offer snapshot."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from gpubroker.api.deps import ApiDeps, AuditTrail, FrontDoor
from gpubroker.config import AuditSettings, AuditSpoolSettings, EdgeSettings, load_settings

if TYPE_CHECKING:
    from gpubroker.ports import AuditLog, AuditSpool, Clock, RateLimiter
    from gpubroker.services.identity import IdentityDeps
    from gpubroker.services.search import SnapshotCache


def system_clock() -> Clock:
    from gpubroker.adapters.clock import SystemClock

    return SystemClock()


def snapshot_cache(bucket: str, ttl_s: float) -> SnapshotCache:
    """The live offer snapshot of ``bucket``, re-read at most every ``ttl_s``."""
    from gpubroker.adapters.s3_snapshots import S3SnapshotStore
    from gpubroker.services.search import SnapshotCache

    return SnapshotCache(S3SnapshotStore(bucket), ttl_s=ttl_s)


def rate_limiter(redis_url: str, *, prefix: str = "rl") -> RateLimiter:
    """The shared Redis limiter at ``redis_url`` (falling back to this process's while Redis is unreachable);
    empty: the per-process limiter only."""
    from gpubroker.adapters.ratelimit import MemoryRateLimiter, redis_rate_limiter

    return redis_rate_limiter(redis_url, prefix) if redis_url else MemoryRateLimiter()


@cache
def public_identity_deps() -> IdentityDeps:
    """What verifies a bearer token on a public route (to learn the caller's plan): the published keys and the
    token policy of ``EdgeSettings`` (Globals), no session check."""
    from gpubroker.wiring.auth import identity_deps

    return identity_deps(load_settings(EdgeSettings))


@cache
def front_door() -> FrontDoor:
    """The front door of every API function: Redis (``REDIS_URL``), the token check when signing keys are
    published (``PUBLIC_KEYS_PARAMETER``, ``TOKEN_ISSUER``, ``TOKEN_AUDIENCE``), built on the first token, and the
    CloudFront origin secret (``EDGE_ORIGIN_SECRET``) that makes a viewer's address believable."""
    s = load_settings(EdgeSettings)
    usable = bool(s.PUBLIC_KEYS_PARAMETER and s.TOKEN_ISSUER and s.TOKEN_AUDIENCE)
    return FrontDoor(limiter=rate_limiter(s.REDIS_URL), identity=public_identity_deps if usable else None,
                     origin_secret=s.EDGE_ORIGIN_SECRET)  # fmt: skip


@cache
def bare_deps() -> ApiDeps:
    """An API function with no ports of its own (``GET /health``)."""
    return ApiDeps(front_door=front_door())


@cache
def audit_log() -> AuditLog:
    """The audit log every mutating function appends to and the admin functions read (``AUDIT_TABLE``)."""
    from gpubroker.adapters.audit import DynamoAuditLog

    return DynamoAuditLog(load_settings(AuditSettings).AUDIT_TABLE)


@cache
def audit_spool() -> AuditSpool:
    """Where the audit middleware puts an entry whose append failed (``AUDIT_SPOOL_QUEUE_URL``)."""
    from gpubroker.adapters.audit_spool import SqsAuditSpool

    return SqsAuditSpool(load_settings(AuditSpoolSettings).AUDIT_SPOOL_QUEUE_URL)


@cache
def audit_trail() -> AuditTrail:
    return AuditTrail(log=audit_log(), spool=audit_spool())
