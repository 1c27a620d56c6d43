"""A dead provider opens its circuit breaker within one scheduled run, and the next run is skipped.

Real parts only: the ingestion function (its handler and service, in-memory stores), the provider's real adapter
and HTTP client, the breaker in the real Redis (``REDIS_URL``, keys under a per-run prefix), and a provider on
127.0.0.1 that answers 500 or refuses connections. The breakers' clock is moved by an hour between runs (the
schedule); the HTTP client's waits are recorded instead of slept.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from redis import Redis

from gpubroker.adapters.breaker import RedisCircuitBreaker
from gpubroker.adapters.providers.http import HttpClient
from gpubroker.adapters.secrets import StaticCredentials
from gpubroker.domain.breaker import BreakerConfig, BreakerState
from gpubroker.wiring.offers import IngestDeps, ProviderSources
from infra.local.stack import free_port
from infra.local.template import read_app
from tests.events import Ctx
from tests.fakes import FixedClock, MemoryGpuCatalog, MemoryOfferRepository, MemoryPriceHistory, MemorySnapshotStore
from tests.integration.redis_server import REDIS_URL, require_redis, scoped_client

require_redis()

PREFIX = f"test-ingest-breaker-{uuid.uuid4().hex[:8]}:"
HOUR = 3600.0


def template_breaker() -> BreakerConfig:
    """The breaker IngestOffersFunction runs with (its environment in template.yaml)."""
    env = read_app().functions["IngestOffersFunction"].environment
    return BreakerConfig(failures=int(env["BREAKER_FAILURES"]), window_s=float(env["BREAKER_WINDOW_SECONDS"]),
                         open_s=float(env["BREAKER_OPEN_SECONDS"]))  # fmt: skip


class Dead:
    """A provider that answers every request 500, counting requests and TCP connections."""

    def __init__(self) -> None:
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests += 1
                body = b'{"error": "internal"}'
                self.send_response(500)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def redis() -> Iterator[Redis]:
    yield from scoped_client(f"{PREFIX}*")


@pytest.fixture(params=["API answers 500", "API refuses connections", "https catalog refuses connections"])
def provider(request: pytest.FixtureRequest) -> Iterator[tuple[dict[str, str], Dead | None]]:
    if request.param == "API answers 500":
        dead = Dead()
        yield {"provider": "lambda", "source": "api", "base_url": dead.url}, dead
        dead.server.shutdown()
        dead.server.server_close()
    elif request.param == "API refuses connections":  # nothing listens there: every connection is refused
        yield {"provider": "lambda", "source": "api", "base_url": f"http://127.0.0.1:{free_port()}"}, None
    else:  # a SkyPilot catalog fetched over HTTPS (as paperspace's schedule does): the same client, the same rules
        yield {"provider": "lambda", "catalog": f"https://127.0.0.1:{free_port()}/vms.csv"}, None


def test_a_dead_provider_opens_its_breaker_in_one_run_and_the_next_run_is_skipped(
    redis: Redis, provider: tuple[dict[str, str], Dead | None]
) -> None:
    import functions.ingest_offers.handler as mod

    event, dead = provider
    config = template_breaker()
    assert config.open_s > HOUR  # longer than the schedule (IngestionRate: rate(1 hour))
    clock = FixedClock()
    sleeps: list[float] = []
    prefix = f"{PREFIX}{uuid.uuid4().hex[:6]}:"
    sources = ProviderSources(
        credentials=StaticCredentials({"lambda": json.dumps({"api_key": "k"})}),
        redis_url=REDIS_URL, breaker=config, key_prefix=prefix, clock=clock,
        http=lambda: HttpClient(sleep=sleeps.append, rng=random.Random(1), timeout_s=2),
    )  # fmt: skip
    deps = IngestDeps(offers=MemoryOfferRepository(), history=MemoryPriceHistory(), snapshots=MemorySnapshotStore(),
                      catalog=MemoryGpuCatalog(), clock=clock, sources=sources)  # fmt: skip
    shared = RedisCircuitBreaker(redis, "lambda", config=config, clock=clock, key_prefix=prefix, idle_ttl_s=2 * HOUR)

    first = mod.lambda_handler(event, Ctx(), deps=deps)
    assert first["status"] == "failed" and first["skipped"] is None
    assert "giving up after 5 attempts" in first["error"]
    assert dead is None or dead.requests == 5  # every attempt reached the provider, and each one counted
    assert shared.state() is BreakerState.OPEN  # ... so the breaker opened within this one run
    assert len(sleeps) == 4 and sum(sleeps) <= 0.5 + 1 + 2 + 4  # backoff with full jitter, bounded

    clock.advance(HOUR)  # the next scheduled run
    second = mod.lambda_handler(event, Ctx(), deps=deps)
    assert second["status"] == "skipped" and second["skipped"] == "breaker_open"
    assert "circuit breaker open" in second["error"]
    assert dead is None or dead.requests == 5  # nothing was sent
    assert len(sleeps) == 4

    clock.advance(HOUR)  # the run after: half-open, one trial, which fails and reopens the breaker
    third = mod.lambda_handler(event, Ctx(), deps=deps)
    assert third["status"] == "failed" and "circuit breaker opened after 1 failing attempts" in third["error"]
    assert dead is None or dead.requests == 6
    assert shared.state() is BreakerState.OPEN


def test_the_run_budget_bounds_the_retries(redis: Redis) -> None:
    """However many attempts are allowed, none starts past the client's budget (the function's timeout)."""
    ticks = iter(range(0, 1000, 10))  # every look at the clock: 10 s later
    client = HttpClient(sleep=lambda s: None, max_attempts=50, budget_s=90, monotonic=lambda: float(next(ticks)))
    client = client.with_provider("lambda")
    with pytest.raises(Exception, match=r"lambda: giving up after \d attempts: cannot reach .*budget is spent"):
        client.get_json(f"http://127.0.0.1:{free_port()}/x")
    assert 1 <= client.attempts <= 5
