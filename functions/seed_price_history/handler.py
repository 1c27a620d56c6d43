"""Backfill the price history from real public series (event: {"series": "<folder of the price-history data>"}).

The local stack runs it at start (template Metadata LocalSeed), so market trends shown locally are real.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import SeedSettings
from gpubroker.domain.price_history import parse_seed_event
from gpubroker.observability import event_handler, logger
from gpubroker.services.market import seed_price_history
from gpubroker.wiring.offers import SeedDeps, seed_deps

Settings = SeedSettings
Deps = SeedDeps


@event_handler(seed_deps)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    request = parse_seed_event(event)
    report = seed_price_history(series=deps.series_at(request.folder), history=deps.history).model_dump()
    logger.info("price history seeded", extra={"report": report})
    return report
