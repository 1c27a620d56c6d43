"""GET /offers/{offer_id}/history: the offer's price points over time (oldest first, paginated)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from gpubroker.adapters.dynamodb import DynamoOfferRepository, DynamoPriceHistoryRepository
from gpubroker.api.params import OfferIdPath
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import HistorySettings, load_settings
from gpubroker.domain.price_history import HistoryPage
from gpubroker.ports import OfferRepository, PriceHistoryReader
from gpubroker.services.history import offer_history

Settings = HistorySettings
app = new_resolver()
ISO = r"^\d{4}-\d{2}-\d{2}(T[0-9:.+-]+Z?)?$"


@dataclass(frozen=True)
class Deps:
    offers: OfferRepository
    history: PriceHistoryReader


@cache
def default_deps() -> Deps:
    s = load_settings(HistorySettings)
    return Deps(DynamoOfferRepository(s.OFFERS_TABLE), DynamoPriceHistoryRepository(s.PRICE_HISTORY_TABLE))


@app.get("/offers/<offer_id>/history", responses=responses(HistoryPage, 400, 404))
def history(
    offer_id: OfferIdPath,
    since: Annotated[str | None, Query(max_length=40, pattern=ISO)] = None,
    until: Annotated[str | None, Query(max_length=40, pattern=ISO)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=128, pattern=r"^[A-Za-z0-9_-]+$")] = None,
) -> HistoryPage:
    deps: Deps = app.context["deps"]
    return offer_history(
        offer_id, offers=deps.offers, history=deps.history, since=since, until=until, limit=limit, cursor=cursor
    )


lambda_handler = api_handler(app, default_deps)
