"""POST /bookings/{booking_id}/cancel: cancel a confirmed booking. The unused hours are refunded pro rata by
started hour and the instance is released; concurrent or retried cancels refund once. A failed, cancelled or
needs-attention booking is a 409 ``booking_not_cancellable``; one still being set up a 409 ``booking_in_progress``;
another user's (or a malformed id) a 404. Audited as ``booking.cancel`` and, when it refunds, ``booking.refund``."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from gpubroker.api.audit import audit_also, audit_middleware
from gpubroker.api.booking_models import BookingView
from gpubroker.api.identity import require_user
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import BookingCancelSettings
from gpubroker.services.bookings import cancel_booking
from gpubroker.wiring.bookings import BookingCancelApiDeps, booking_cancel_deps

Settings = BookingCancelSettings
Deps = BookingCancelApiDeps
app = new_resolver()
app.use([audit_middleware(action="booking.cancel")])
BookingIdPath = Annotated[str, Path(description="bk_ and 26 base32 characters (anything else: 404)")]


@app.post("/bookings/<booking_id>/cancel", responses=responses(BookingView, 401, 404, 409, 503))
def cancel(booking_id: BookingIdPath) -> BookingView:
    principal = require_user(app)
    app.append_context(audit_resource=f"booking/{booking_id}")
    result = cancel_booking(principal.user_id, booking_id, deps=app.context["deps"].cancel)
    if result.refunded_now:
        audit_also(app, "booking.refund")
    return BookingView.of(result.booking)


lambda_handler = api_handler(app, booking_cancel_deps)
