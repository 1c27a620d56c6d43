"""GET /market/summary: providers, GPUs, prices per model, savings potential, histogram, share, 7-day trends."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import MarketSettings
from gpubroker.services.market import market_summary
from gpubroker.wiring.offers import MarketDeps, market_deps

Settings = MarketSettings
Deps = MarketDeps
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


@app.get("/market/summary", responses=responses(MarketSummary, 503))
def summary() -> MarketSummary:
    deps: Deps = app.context["deps"]
    return MarketSummary.model_validate(market_summary(deps.snapshots.current(), trends=deps.trends))


lambda_handler = api_handler(app, market_deps)
