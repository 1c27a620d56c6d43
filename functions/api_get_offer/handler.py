"""GET /offers/{offer_id}: one offer by id (a DynamoDB point read)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.adapters.dynamodb import DynamoOfferRepository
from gpubroker.adapters.s3_snapshots import S3SnapshotStore
from gpubroker.api.models import OfferOut
from gpubroker.api.resolver import new_resolver, responses
from gpubroker.config import OfferReadSettings, load_settings
from gpubroker.observability import logger, metrics, tracer
from gpubroker.ports import OfferRepository, SnapshotReader
from gpubroker.services.catalog import get_offer

Settings = OfferReadSettings
app = new_resolver()


@dataclass(frozen=True)
class Deps:
    offers: OfferRepository
    snapshots: SnapshotReader


@cache
def default_deps() -> Deps:
    settings = load_settings(OfferReadSettings)
    return Deps(
        offers=DynamoOfferRepository(settings.OFFERS_TABLE),
        snapshots=S3SnapshotStore(settings.SNAPSHOT_BUCKET),
    )


@app.get("/offers/<offer_id>", responses=responses(OfferOut, 404))
def read_offer(
    offer_id: Annotated[str, Path(min_length=3, max_length=80, pattern=r"^[a-z0-9-]+$")],
) -> OfferOut:
    deps: Deps = app.context["deps"]
    offer = get_offer(offer_id, offers=deps.offers, snapshots=deps.snapshots)
    return OfferOut.model_validate(offer.model_dump())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
    app.append_context(deps=deps or default_deps())
    return app.resolve(event, context)
