"""GET /market/summary: providers, GPUs, prices per model, savings potential, histogram, share, 7-day trends."""

from __future__ import annotations

from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import MarketSettings
from gpubroker.domain.market import MarketSummary
from gpubroker.services.market import market_summary
from gpubroker.wiring.offers import MarketDeps, market_deps

Settings = MarketSettings
Deps = MarketDeps
app = new_resolver()


@app.get("/market/summary", responses=responses(MarketSummary, 503))
def summary() -> MarketSummary:
    deps: Deps = app.context["deps"]
    return market_summary(deps.snapshots.current(), trends=deps.trends)


lambda_handler = api_handler(app, market_deps)
