"""GET /offers/{offer_id}/history: the offer's price points over time (oldest first, paginated)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from gpubroker.api.params import OfferIdPath
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import HistorySettings
from gpubroker.domain.price_history import HistoryPage
from gpubroker.services.history import offer_history
from gpubroker.wiring.offers import HistoryDeps, history_deps

Settings = HistorySettings
Deps = HistoryDeps
app = new_resolver()
ISO = r"^\d{4}-\d{2}-\d{2}(T[0-9:.+-]+Z?)?$"


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


lambda_handler = api_handler(app, history_deps)
