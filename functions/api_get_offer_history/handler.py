"""GET /offers/{offer_id}/history: the offer's price points over time (oldest first, paginated)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel

from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import HistorySettings
from gpubroker.services.history import offer_history
from gpubroker.wiring.offers import HistoryDeps, history_deps

Settings = HistorySettings
Deps = HistoryDeps
app = new_resolver()
ISO = r"^\d{4}-\d{2}-\d{2}(T[0-9:.+-]+Z?)?$"


class HistoryPage(BaseModel):
    offer_id: str
    points: list[dict[str, Any]]
    next_cursor: str | None


@app.get("/offers/<offer_id>/history", responses=responses(HistoryPage, 400, 404))
def history(
    offer_id: Annotated[str, Path(min_length=3, max_length=80, pattern=r"^[a-z0-9-]+$")],
    since: Annotated[str | None, Query(max_length=40, pattern=ISO)] = None,
    until: Annotated[str | None, Query(max_length=40, pattern=ISO)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=128, pattern=r"^[A-Za-z0-9_-]+$")] = None,
) -> HistoryPage:
    deps: Deps = app.context["deps"]
    page = offer_history(
        offer_id, offers=deps.offers, history=deps.history, since=since, until=until, limit=limit, cursor=cursor
    )
    return HistoryPage.model_validate(page)


lambda_handler = api_handler(app, history_deps)
