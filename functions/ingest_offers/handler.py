"""Ingestion: one provider's catalog -> normalised offers, history points and a new snapshot.

Event (EventBridge schedule input, or a direct invoke): ``{"provider": "runpod", "catalog": "<path or https URL>"}``
for a SkyPilot catalog, or ``{"provider": "runpod", "source": "api"}`` for the provider's live API (``base_url``
overrides its address). Every source runs behind the provider's circuit breaker. Returns the run report; a bad
event is refused before anything is read or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.adapters.clock import SystemClock
from gpubroker.adapters.dynamodb import (
    DynamoGpuCatalogRepository,
    DynamoOfferRepository,
    DynamoPriceHistoryRepository,
)
from gpubroker.adapters.s3_snapshots import S3SnapshotStore
from gpubroker.adapters.secrets import SecretsManagerCredentials
from gpubroker.config import IngestSettings, load_settings
from gpubroker.domain.ingest_events import parse_event
from gpubroker.observability import logger, metrics, tracer
from gpubroker.ports import (
    Clock,
    GpuCatalogRepository,
    OfferRepository,
    PriceHistoryRepository,
    SnapshotStore,
)
from gpubroker.services.ingestion import run_ingestion
from gpubroker.wiring import offer_source

Settings = IngestSettings


@dataclass(frozen=True)
class Deps:
    offers: OfferRepository
    history: PriceHistoryRepository
    snapshots: SnapshotStore
    catalog: GpuCatalogRepository
    clock: Clock
    credentials: Any = None
    redis_url: str = ""


@cache
def default_deps() -> Deps:
    s = load_settings(IngestSettings)
    return Deps(
        offers=DynamoOfferRepository(s.OFFERS_TABLE),
        history=DynamoPriceHistoryRepository(s.PRICE_HISTORY_TABLE),
        snapshots=S3SnapshotStore(s.SNAPSHOT_BUCKET),
        catalog=DynamoGpuCatalogRepository(s.GPU_CATALOG_TABLE),
        clock=SystemClock(),
        credentials=SecretsManagerCredentials(s.PROVIDER_SECRETS_ID) if s.PROVIDER_SECRETS_ID else None,
        redis_url=s.REDIS_URL,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
    request = parse_event(event)
    d = deps or default_deps()
    source = offer_source(
        request.provider,
        catalog=request.catalog,
        base_url=request.base_url,
        credentials=d.credentials,
        redis_url=d.redis_url,
    )
    report = run_ingestion(
        source,
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
