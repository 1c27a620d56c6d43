"""The real redis-server the Redis integration tests run against (``REDIS_URL``, default redis://127.0.0.1:6379/0)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def require_redis() -> None:
    """Skip the calling test module, saying how to get a Redis, when none answers at ``REDIS_URL``."""
    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0)).ping()
    except (RedisError, OSError) as exc:  # pragma: no cover - CI has a Redis
        pytest.skip(
            f"no Redis answers at REDIS_URL={REDIS_URL} ({type(exc).__name__}: {exc}); start one (Debian: apt-get "
            "update && apt-get install -y redis-server && redis-server --daemonize yes) or set REDIS_URL",
            allow_module_level=True,
        )


def scoped_client(match: str) -> Iterator[Redis]:
    """A client for one test module; afterwards every key matching ``match`` (the module's prefix) is deleted."""
    r = Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2, decode_responses=True)
    yield r
    keys = list(r.scan_iter(match=match, count=1000))
    if keys:
        r.delete(*keys)
    assert not list(r.scan_iter(match=match))
    r.close()
