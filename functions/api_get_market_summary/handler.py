"""GET /market/summary: providers, GPUs, prices per model, savings potential, histogram, share, 7-day trends."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from gpubroker.adapters.dynamodb import DynamoPriceHistoryRepository
from gpubroker.adapters.s3_snapshots import S3SnapshotStore
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import MarketSettings, load_settings
from gpubroker.domain.market import MarketSummary
from gpubroker.services.market import TrendCache, market_summary
from gpubroker.services.search import SnapshotCache

Settings = MarketSettings
app = new_resolver()


@dataclass(frozen=True)
class Deps:
    snapshots: SnapshotCache
    trends: TrendCache


@cache
def default_deps() -> Deps:
    s = load_settings(MarketSettings)
    snapshots = SnapshotCache(S3SnapshotStore(s.SNAPSHOT_BUCKET), ttl_s=s.SNAPSHOT_TTL_SECONDS)
    return Deps(snapshots=snapshots, trends=TrendCache(DynamoPriceHistoryRepository(s.PRICE_HISTORY_TABLE)))


@app.get("/market/summary", responses=responses(MarketSummary, 503))
def summary() -> MarketSummary:
    deps: Deps = app.context["deps"]
    return market_summary(deps.snapshots.current(), trends=deps.trends)


lambda_handler = api_handler(app, default_deps)
