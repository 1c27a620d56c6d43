"""Scheduled: train ALS-WR on every recorded interaction and store the factors for the query functions."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import TrainSettings
from gpubroker.observability import logger, metrics, tracer
from gpubroker.services.collab import train_cf
from gpubroker.wiring.math import TrainDeps, train_deps

Settings = TrainSettings
Deps = TrainDeps


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
    d = deps or train_deps()
    report = train_cf(interactions=d.interactions, models=d.models, clock=d.clock).model_dump(exclude_none=True)
    logger.info("collaborative filter trained", extra={"report": report})
    return report
