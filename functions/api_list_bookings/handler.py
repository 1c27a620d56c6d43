"""GET /bookings: the caller's bookings, newest first, a page at a time (``cursor``: the previous page's
``next_cursor``). Never another user's; never connection details."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from gpubroker.api.booking_models import BookingPage, BookingView
from gpubroker.api.identity import require_user
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import BookingReadSettings
from gpubroker.services.bookings import MAX_PAGE, list_bookings
from gpubroker.wiring.bookings import BookingReadApiDeps, booking_read_deps

Settings = BookingReadSettings
Deps = BookingReadApiDeps
app = new_resolver()


@app.get("/bookings", responses=responses(BookingPage, 400, 401))
def list_mine(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="bookings per page")] = 20,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")] = None,
) -> BookingPage:
    principal = require_user(app)
    items, nxt = list_bookings(principal.user_id, store=app.context["deps"].store, limit=limit, cursor=cursor)
    return BookingPage(items=[BookingView.of(b) for b in items], next_cursor=nxt)


lambda_handler = api_handler(app, booking_read_deps)
