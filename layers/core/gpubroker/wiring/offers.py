"""Offers: search, the GPU catalog, one offer, its price history, the market summary, ingestion and seeding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from gpubroker.api.deps import ApiDeps, AuditedApiDeps
from gpubroker.config import (
    CatalogSettings,
    HistorySettings,
    IngestSettings,
    MarketSettings,
    OfferReadSettings,
    ProviderAdminSettings,
    SeedSettings,
    SnapshotSettings,
    load_settings,
)
from gpubroker.wiring import edge

if TYPE_CHECKING:
    from gpubroker.adapters.breaker import CircuitBreaker
    from gpubroker.adapters.providers.http import HttpClient
    from gpubroker.adapters.secrets import Credentials
    from gpubroker.domain.breaker import BreakerConfig
    from gpubroker.ports import (
        Clock,
        GpuCatalogRepository,
        IngestionRunner,
        OfferRepository,
        OfferSource,
        OfferSourceFactory,
        PriceHistoryReader,
        PriceHistoryRepository,
        PriceSeriesSource,
        SnapshotReader,
        SnapshotStore,
    )
    from gpubroker.services.market import TrendCache
    from gpubroker.services.search import SnapshotCache


@dataclass(frozen=True, kw_only=True)
class SearchDeps(ApiDeps):
    snapshots: SnapshotCache


@cache
def search_deps() -> SearchDeps:
    s = load_settings(SnapshotSettings)
    return SearchDeps(
        snapshots=edge.snapshot_cache(s.SNAPSHOT_BUCKET, s.SNAPSHOT_TTL_SECONDS), front_door=edge.front_door()
    )


@dataclass(frozen=True, kw_only=True)
class ProvidersDeps(ApiDeps):
    snapshots: SnapshotReader


@cache
def providers_deps() -> ProvidersDeps:
    from gpubroker.adapters.s3_snapshots import S3SnapshotStore

    bucket = load_settings(SnapshotSettings).SNAPSHOT_BUCKET
    return ProvidersDeps(snapshots=S3SnapshotStore(bucket), front_door=edge.front_door())


@dataclass(frozen=True, kw_only=True)
class ReadinessDeps(ApiDeps):
    """``GET /health/ready``: the snapshot manifest, and how long readers may keep an older one."""

    snapshots: SnapshotReader
    ttl_s: float


@cache
def readiness_deps() -> ReadinessDeps:
    from gpubroker.adapters.s3_snapshots import S3SnapshotStore

    s = load_settings(SnapshotSettings)
    return ReadinessDeps(
        snapshots=S3SnapshotStore(s.SNAPSHOT_BUCKET), ttl_s=s.SNAPSHOT_TTL_SECONDS, front_door=edge.front_door()
    )


@dataclass(frozen=True, kw_only=True)
class ProviderAdminDeps(AuditedApiDeps):
    """``DELETE /providers/{name}``: the ingestion function that removes a provider (the snapshot's one writer)."""

    ingestion: IngestionRunner


@cache
def provider_admin_deps() -> ProviderAdminDeps:
    from gpubroker.adapters.lambda_invoke import LambdaIngestionRunner

    s = load_settings(ProviderAdminSettings)
    return ProviderAdminDeps(
        ingestion=LambdaIngestionRunner(s.INGEST_FUNCTION), front_door=edge.front_door(), audit=edge.audit_trail()
    )


@dataclass(frozen=True, kw_only=True)
class OfferReadDeps(ApiDeps):
    offers: OfferRepository
    snapshots: SnapshotReader


@cache
def offer_read_deps() -> OfferReadDeps:
    from gpubroker.adapters.dynamodb import DynamoOfferRepository
    from gpubroker.adapters.s3_snapshots import S3SnapshotStore

    s = load_settings(OfferReadSettings)
    return OfferReadDeps(offers=DynamoOfferRepository(s.OFFERS_TABLE), snapshots=S3SnapshotStore(s.SNAPSHOT_BUCKET),
                         front_door=edge.front_door())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class CatalogDeps(ApiDeps):
    catalog: GpuCatalogRepository


@cache
def catalog_deps() -> CatalogDeps:
    from gpubroker.adapters.dynamodb import DynamoGpuCatalogRepository

    table = load_settings(CatalogSettings).GPU_CATALOG_TABLE
    return CatalogDeps(catalog=DynamoGpuCatalogRepository(table), front_door=edge.front_door())


@dataclass(frozen=True, kw_only=True)
class HistoryDeps(ApiDeps):
    offers: OfferRepository
    history: PriceHistoryReader


@cache
def history_deps() -> HistoryDeps:
    from gpubroker.adapters.dynamodb import DynamoOfferRepository, DynamoPriceHistoryRepository

    s = load_settings(HistorySettings)
    return HistoryDeps(
        offers=DynamoOfferRepository(s.OFFERS_TABLE),
        history=DynamoPriceHistoryRepository(s.PRICE_HISTORY_TABLE),
        front_door=edge.front_door(),
    )


@dataclass(frozen=True, kw_only=True)
class MarketDeps(ApiDeps):
    snapshots: SnapshotCache
    trends: TrendCache


@cache
def market_deps() -> MarketDeps:
    from gpubroker.adapters.dynamodb import DynamoPriceHistoryRepository
    from gpubroker.services.market import TrendCache

    s = load_settings(MarketSettings)
    return MarketDeps(
        snapshots=edge.snapshot_cache(s.SNAPSHOT_BUCKET, s.SNAPSHOT_TTL_SECONDS),
        trends=TrendCache(DynamoPriceHistoryRepository(s.PRICE_HISTORY_TABLE)),
        front_door=edge.front_door(),
    )


# ---- ingestion ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderSources:
    """The source an ingestion event names (a SkyPilot catalog, or the provider's live API with its keys from
    ``credentials``), behind the provider's circuit breaker (shared in Redis at ``redis_url``, else per container).
    Implements ``ports.OfferSourceFactory``.

    A live API's breaker sits in its HTTP client and counts every attempt (``adapters.providers.http``): a dead
    provider opens it within one run, and the next run is skipped while it is open (``breaker`` config: open longer
    than the schedule's period); an https:// catalog is fetched by the same client. A catalog file read is one
    call of its breaker (``guarded``). ``http`` makes each run's
    client (one connection pool and one time budget per run)."""

    credentials: Credentials | None = None
    redis_url: str = ""
    breaker: BreakerConfig | None = None
    key_prefix: str = ""  # the breakers' Redis keys (tests give each run its own)
    http: Callable[[], HttpClient] | None = None
    clock: Clock | None = None  # the breakers' (tests move it to the next scheduled run)

    def source(self, provider: str, *, catalog: str | None, base_url: str | None) -> OfferSource:
        from gpubroker.adapters.breaker import guarded

        breaker = (
            breaker_for(provider, self.redis_url, self.breaker, self.key_prefix)
            if self.clock is None
            else make_breaker(provider, self.redis_url, self.breaker, self.key_prefix, self.clock)
        )
        from gpubroker.adapters.providers import HttpClient, build_source

        http = (self.http or HttpClient)().with_breaker(breaker)
        if catalog:
            from gpubroker.adapters.skypilot_catalog import SkyPilotCatalogSource

            if catalog.startswith("https://"):  # each attempt of its fetch is counted, as for an API
                return SkyPilotCatalogSource(provider, catalog, http=http)
            return guarded(SkyPilotCatalogSource(provider, catalog), breaker)  # a file: one read, one call
        from gpubroker.adapters.secrets import ProviderCredentials

        scoped = ProviderCredentials(self.credentials, provider) if self.credentials is not None else None
        return build_source(provider, credentials=scoped, base_url=base_url, http=http)


@cache
def breaker_for(
    provider: str, redis_url: str, config: BreakerConfig | None = None, key_prefix: str = ""
) -> CircuitBreaker:
    """One breaker per provider per container: shared through Redis when ``redis_url`` is set (short timeouts,
    no client retries: an unreachable Redis falls back to the in-process breaker at once), else in-process."""
    return make_breaker(provider, redis_url, config, key_prefix)


def make_breaker(
    provider: str, redis_url: str, config: BreakerConfig | None = None, key_prefix: str = "", clock: Clock | None = None
) -> CircuitBreaker:
    """A provider's breaker (see :func:`breaker_for`), on ``clock`` (default: the system's)."""
    from gpubroker.adapters.breaker import MemoryCircuitBreaker, RedisCircuitBreaker

    if not redis_url:
        return MemoryCircuitBreaker(provider, config=config, clock=clock)
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5, retry_on_timeout=False)
    idle = max(600.0, config.open_s + config.window_s + 60) if config else 600.0
    return RedisCircuitBreaker(client, provider, config=config, key_prefix=key_prefix, idle_ttl_s=idle, clock=clock)


@dataclass(frozen=True)
class IngestDeps:
    offers: OfferRepository
    history: PriceHistoryRepository
    snapshots: SnapshotStore
    catalog: GpuCatalogRepository
    clock: Clock
    sources: OfferSourceFactory


@cache
def ingest_deps() -> IngestDeps:
    from gpubroker.adapters.dynamodb import (
        DynamoGpuCatalogRepository,
        DynamoOfferRepository,
        DynamoPriceHistoryRepository,
    )
    from gpubroker.adapters.s3_snapshots import S3SnapshotStore
    from gpubroker.adapters.secrets import SecretsManagerCredentials
    from gpubroker.domain.breaker import BreakerConfig

    s = load_settings(IngestSettings)
    credentials = (
        SecretsManagerCredentials(s.PROVIDER_SECRETS_ID, max_age_s=s.PROVIDER_SECRETS_MAX_AGE_SECONDS)
        if s.PROVIDER_SECRETS_ID
        else None
    )
    breaker = BreakerConfig(
        failures=s.BREAKER_FAILURES, window_s=s.BREAKER_WINDOW_SECONDS, open_s=s.BREAKER_OPEN_SECONDS
    )
    return IngestDeps(
        offers=DynamoOfferRepository(s.OFFERS_TABLE),
        history=DynamoPriceHistoryRepository(s.PRICE_HISTORY_TABLE),
        snapshots=S3SnapshotStore(s.SNAPSHOT_BUCKET),
        catalog=DynamoGpuCatalogRepository(s.GPU_CATALOG_TABLE),
        clock=edge.system_clock(),
        sources=ProviderSources(credentials=credentials, redis_url=s.REDIS_URL, breaker=breaker),
    )


def public_price_series(folder: Path) -> PriceSeriesSource:
    """The public price series files in ``folder`` (``../shared/data/price-history`` locally)."""
    from gpubroker.adapters.price_series import PublicPriceSeries

    return PublicPriceSeries(folder)


@dataclass(frozen=True)
class SeedDeps:
    """The seeding function: where history points go, and what reads the series in the folder an event names."""

    history: PriceHistoryRepository
    series_at: Callable[[Path], PriceSeriesSource] = public_price_series


@cache
def seed_deps() -> SeedDeps:
    from gpubroker.adapters.dynamodb import DynamoPriceHistoryRepository

    return SeedDeps(history=DynamoPriceHistoryRepository(load_settings(SeedSettings).PRICE_HISTORY_TABLE))
