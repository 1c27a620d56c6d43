"""Backfill the price history from real public series (event: {"series": "<folder of the price-history data>"}).

The local stack runs it at start (template Metadata LocalSeed), so market trends shown locally are real.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.adapters.dynamodb import DynamoPriceHistoryRepository
from gpubroker.adapters.price_series import PublicPriceSeries
from gpubroker.config import SeedSettings, load_settings
from gpubroker.domain.price_history import parse_seed_event
from gpubroker.observability import logger, metrics, tracer
from gpubroker.ports import PriceHistoryRepository
from gpubroker.services.market import seed_price_history

Settings = SeedSettings


@dataclass(frozen=True)
class Deps:
    history: PriceHistoryRepository


@cache
def default_deps() -> Deps:
    return Deps(history=DynamoPriceHistoryRepository(load_settings(SeedSettings).PRICE_HISTORY_TABLE))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
    request = parse_seed_event(event)
    series = PublicPriceSeries(request.folder)
    report = seed_price_history(series=series, history=(deps or default_deps()).history).model_dump()
    logger.info("price history seeded", extra={"report": report})
    return report
