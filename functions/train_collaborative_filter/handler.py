"""Scheduled: train ALS-WR on every recorded interaction and store the factors for the query functions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.adapters.clock import SystemClock
from gpubroker.adapters.interactions import DynamoInteractionRepository
from gpubroker.adapters.s3_models import S3ModelStore
from gpubroker.config import TrainSettings, load_settings
from gpubroker.observability import logger, metrics, tracer
from gpubroker.ports import Clock, InteractionRepository, ModelStore
from gpubroker.services.collab import train_cf

Settings = TrainSettings


@dataclass(frozen=True)
class Deps:
    interactions: InteractionRepository
    models: ModelStore
    clock: Clock


@cache
def default_deps() -> Deps:
    s = load_settings(TrainSettings)
    return Deps(DynamoInteractionRepository(s.INTERACTIONS_TABLE), S3ModelStore(s.MODEL_BUCKET), SystemClock())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
    d = deps or default_deps()
    report = train_cf(interactions=d.interactions, models=d.models, clock=d.clock).model_dump(exclude_none=True)
    logger.info("collaborative filter trained", extra={"report": report})
    return report
