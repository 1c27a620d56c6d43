"""GET /offers/{offer_id}: one offer by id (a DynamoDB point read)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from gpubroker.api.models import OfferOut
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import OfferReadSettings
from gpubroker.services.catalog import get_offer
from gpubroker.wiring.offers import OfferReadDeps, offer_read_deps

Settings = OfferReadSettings
Deps = OfferReadDeps
app = new_resolver()


@app.get("/offers/<offer_id>", responses=responses(OfferOut, 404))
def read_offer(
    offer_id: Annotated[str, Path(min_length=3, max_length=80, pattern=r"^[a-z0-9-]+$")],
) -> OfferOut:
    deps: Deps = app.context["deps"]
    offer = get_offer(offer_id, offers=deps.offers, snapshots=deps.snapshots)
    return OfferOut.model_validate(offer.model_dump())


lambda_handler = api_handler(app, offer_read_deps)
