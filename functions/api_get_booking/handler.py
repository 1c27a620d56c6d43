"""GET /bookings/{booking_id}: one of the caller's bookings (another user's, or a malformed id, is a 404). The
connection details of the instance are in the answer only here, for the owner of a confirmed booking."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from gpubroker.api.booking_models import BookingView
from gpubroker.api.identity import require_user
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import BookingGetSettings
from gpubroker.services.bookings import get_booking
from gpubroker.wiring.bookings import BookingReadApiDeps, booking_get_deps

Settings = BookingGetSettings
Deps = BookingReadApiDeps
app = new_resolver()
BookingIdPath = Annotated[str, Path(description="bk_ and 26 base32 characters (anything else: 404)")]


@app.get("/bookings/<booking_id>", responses=responses(BookingView, 401, 404))
def get_one(booking_id: BookingIdPath) -> BookingView:
    principal = require_user(app)
    booking = get_booking(principal.user_id, booking_id, store=app.context["deps"].store)
    return BookingView.of(booking, with_connection=True)


lambda_handler = api_handler(app, booking_get_deps)
