"""GET /market/summary: providers, GPUs, prices per model, savings potential, histogram, share, 7-day trends."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict

from gpubroker.adapters.dynamodb import DynamoPriceHistoryRepository
from gpubroker.adapters.s3_snapshots import S3SnapshotStore
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import MarketSettings, load_settings
from gpubroker.services.market import TrendCache, market_summary
from gpubroker.services.search import SnapshotCache

Settings = MarketSettings
app = new_resolver()


class MarketSummary(BaseModel):
    model_config = ConfigDict(extra="allow")

    snapshot_version: str
    active_providers: list[str]
    available_gpus: dict[str, int]
    live_offers: int
    by_gpu: list[dict[str, Any]]
    price_histogram: list[dict[str, Any]]
    provider_share: list[dict[str, Any]]
    trend_7d: dict[str, Any]
    stale: bool


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
    return MarketSummary.model_validate(market_summary(deps.snapshots.current(), trends=deps.trends))


lambda_handler = api_handler(app, default_deps)
