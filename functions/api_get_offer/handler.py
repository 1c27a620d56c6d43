"""GET /offers/{offer_id}: one offer by id (a DynamoDB point read)."""

from __future__ import annotations

from gpubroker.api.params import OfferIdPath
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import OfferReadSettings
from gpubroker.domain.search import OfferOut
from gpubroker.services.catalog import get_offer
from gpubroker.wiring.offers import OfferReadDeps, offer_read_deps

Settings = OfferReadSettings
Deps = OfferReadDeps
app = new_resolver()


@app.get("/offers/<offer_id>", responses=responses(OfferOut, 404))
def read_offer(
    offer_id: OfferIdPath,
) -> OfferOut:
    deps: Deps = app.context["deps"]
    offer = get_offer(offer_id, offers=deps.offers, snapshots=deps.snapshots)
    return OfferOut.model_validate(offer.model_dump())


lambda_handler = api_handler(app, offer_read_deps)
