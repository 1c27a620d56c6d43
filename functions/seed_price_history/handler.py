"""Backfill the price history from real public series (event: {"series": "<folder of the price-history data>"}).

The local stack runs it at start (template Metadata LocalSeed), so market trends shown locally are real.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gpubroker.adapters.dynamodb import DynamoPriceHistoryRepository
from gpubroker.config import SeedSettings, load_settings
from gpubroker.domain.errors import ValidationFailed
from gpubroker.observability import logger, metrics, tracer
from gpubroker.ports import PriceHistoryRepository
from gpubroker.services.market import seed_price_history

Settings = SeedSettings


class SeedEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    series: str = Field(min_length=1, max_length=1024)


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
    try:
        request = SeedEvent.model_validate(event)
    except ValidationError as exc:
        raise ValidationFailed("seed event is invalid", details=exc.errors(include_url=False)) from None
    folder = Path(request.series)
    if not folder.is_dir():
        raise ValidationFailed(f"no price-history folder at {folder}")
    report = seed_price_history(folder, history=(deps or default_deps()).history)
    logger.info("price history seeded", extra={"report": report})
    return report
