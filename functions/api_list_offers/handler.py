"""GET /offers: filter, full-text, sort and paginate the live offer snapshot (columnar, in memory)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from gpubroker.api.offer_query import OfferSearchQuery
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import SnapshotSettings
from gpubroker.domain.search import OfferPage
from gpubroker.services.search import search_offers
from gpubroker.wiring.offers import SearchDeps, search_deps

Settings = SnapshotSettings
Deps = SearchDeps
app = new_resolver()


@app.get("/offers", responses=responses(OfferPage, 400, 410, 503))
def list_offers(query: Annotated[OfferSearchQuery, Query()]) -> OfferPage:
    return search_offers(query, snapshots=app.context["deps"].snapshots)


lambda_handler = api_handler(app, search_deps)
