"""GET /billing/usage: this calendar month's (UTC) booked GPU-hours and amounts of the caller, per booking and
totalled per currency, and the caller's plan (as of the access token)."""

from __future__ import annotations

from gpubroker.api.booking_models import UsageReport
from gpubroker.api.identity import require_user
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import BookingReadSettings
from gpubroker.services.bookings import usage
from gpubroker.wiring.bookings import BookingReadApiDeps, booking_read_deps

Settings = BookingReadSettings
Deps = BookingReadApiDeps
app = new_resolver()


@app.get("/billing/usage", responses=responses(UsageReport, 401))
def billing_usage() -> UsageReport:
    principal = require_user(app)
    deps: Deps = app.context["deps"]
    return UsageReport.of(principal.plan, usage(principal.user_id, store=deps.store, clock=deps.clock))


lambda_handler = api_handler(app, booking_read_deps)
