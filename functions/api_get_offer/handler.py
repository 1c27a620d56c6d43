"""GET /offers/{offer_id}: one offer by id (a DynamoDB point read)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from gpubroker.adapters.dynamodb import DynamoOfferRepository
from gpubroker.adapters.s3_snapshots import S3SnapshotStore
from gpubroker.api.params import OfferIdPath
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import OfferReadSettings, load_settings
from gpubroker.domain.search import OfferOut
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
    offer_id: OfferIdPath,
) -> OfferOut:
    deps: Deps = app.context["deps"]
    offer = get_offer(offer_id, offers=deps.offers, snapshots=deps.snapshots)
    return OfferOut.model_validate(offer.model_dump())


lambda_handler = api_handler(app, default_deps)
