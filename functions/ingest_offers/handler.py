"""Ingestion: one provider's catalog -> normalised offers, history points and a new snapshot.

Event (EventBridge schedule input, or a direct invoke): ``{"provider": "runpod", "catalog": "<path or https URL>"}``.
Returns the run report. A bad event is refused before anything is read or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gpubroker.adapters.clock import SystemClock
from gpubroker.adapters.dynamodb import (
    DynamoGpuCatalogRepository,
    DynamoOfferRepository,
    DynamoPriceHistoryRepository,
)
from gpubroker.adapters.s3_snapshots import S3SnapshotStore
from gpubroker.adapters.skypilot_catalog import SkyPilotCatalogSource
from gpubroker.config import IngestSettings, load_settings
from gpubroker.domain.errors import ValidationFailed
from gpubroker.domain.providers import PROVIDERS
from gpubroker.observability import logger, metrics, tracer
from gpubroker.ports import (
    Clock,
    GpuCatalogRepository,
    OfferRepository,
    PriceHistoryRepository,
    SnapshotStore,
)
from gpubroker.services.ingestion import run_ingestion

Settings = IngestSettings


class IngestEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    provider: str = Field(min_length=1, max_length=32)
    catalog: str = Field(min_length=1, max_length=2048, description="local path or https:// URL of a vms.csv")


@dataclass(frozen=True)
class Deps:
    offers: OfferRepository
    history: PriceHistoryRepository
    snapshots: SnapshotStore
    catalog: GpuCatalogRepository
    clock: Clock


@cache
def default_deps() -> Deps:
    s = load_settings(IngestSettings)
    return Deps(
        offers=DynamoOfferRepository(s.OFFERS_TABLE),
        history=DynamoPriceHistoryRepository(s.PRICE_HISTORY_TABLE),
        snapshots=S3SnapshotStore(s.SNAPSHOT_BUCKET),
        catalog=DynamoGpuCatalogRepository(s.GPU_CATALOG_TABLE),
        clock=SystemClock(),
    )


def parse_event(event: dict[str, Any]) -> IngestEvent:
    try:
        parsed = IngestEvent.model_validate(event)
    except ValidationError as exc:
        raise ValidationFailed("ingestion event is invalid", details=exc.errors(include_url=False)) from None
    if parsed.provider not in PROVIDERS:
        raise ValidationFailed(f"unknown provider {parsed.provider!r}", details={"known": sorted(PROVIDERS)})
    return parsed


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
    request = parse_event(event)
    d = deps or default_deps()
    report = run_ingestion(
        SkyPilotCatalogSource(request.provider, request.catalog),
        offers=d.offers,
        history=d.history,
        snapshots=d.snapshots,
        catalog=d.catalog,
        clock=d.clock,
    )
    if report.status == "failed":
        logger.error(
            "provider failed; its last good offers stay, flagged stale",
            extra={"report": report.model_dump(mode="json")},
        )
        metrics.add_metric(name="ProviderFailures", unit="Count", value=1)
    else:
        logger.info("ingestion finished", extra={"report": report.model_dump(mode="json")})
    metrics.add_metric(name="OffersAccepted", unit="Count", value=report.accepted)
    metrics.add_metric(name="OffersRejected", unit="Count", value=sum(report.rejected.values()))
    return report.model_dump(mode="json")
