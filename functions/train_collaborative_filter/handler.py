"""Scheduled: train ALS-WR on every recorded interaction and store the factors for the query functions."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import TrainSettings
from gpubroker.observability import event_handler, logger
from gpubroker.services.collab import train_cf
from gpubroker.wiring.math import TrainDeps, train_deps

Settings = TrainSettings
Deps = TrainDeps


@event_handler(train_deps)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    report = train_cf(interactions=deps.interactions, models=deps.models, clock=deps.clock).model_dump(
        exclude_none=True
    )
    logger.info("collaborative filter trained", extra={"report": report})
    return report
