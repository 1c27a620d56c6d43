"""Backfill the price history from real public series (event: {"series": "<folder of the price-history data>"}).

The local stack runs it at start (template Metadata LocalSeed), so market trends shown locally are real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gpubroker.config import SeedSettings
from gpubroker.domain.errors import ValidationFailed
from gpubroker.observability import logger, metrics, tracer
from gpubroker.services.market import seed_price_history
from gpubroker.wiring.offers import SeedDeps, seed_deps

Settings = SeedSettings
Deps = SeedDeps


class SeedEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    series: str = Field(min_length=1, max_length=1024)


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
    report = seed_price_history(folder, history=(deps or seed_deps()).history)
    logger.info("price history seeded", extra={"report": report})
    return report
