"""POST /bookings: book an offer. Answers 202 at once with the booking id, its status and a status URL; the saga
(Step Functions, execution named after the booking) reserves, charges and confirms asynchronously.

``Idempotency-Key`` header required (400 ``idempotency_key_required``); a verified email required (403). The same
key and body replay the first answer for 24 h; another body is 422 ``idempotency_key_reused``; a request while the
first runs is 409 ``idempotency_in_progress`` (Retry-After: 1). Audited as ``booking.create`` on ``booking/<id>``."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header

from gpubroker.api.audit import audit_middleware
from gpubroker.api.booking_idempotency import checked_key, replayed
from gpubroker.api.booking_models import BookingAccepted, BookingView, CreateBookingBody
from gpubroker.api.identity import require_verified_email
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import BookingCreateSettings
from gpubroker.domain.bookings import booking_id_for
from gpubroker.observability import correlation_id
from gpubroker.services.bookings import NewBooking, create_booking
from gpubroker.wiring.bookings import BookingCreateApiDeps, booking_create_deps

Settings = BookingCreateSettings
Deps = BookingCreateApiDeps
app = new_resolver()
app.use([audit_middleware(action="booking.create")])
KEY_DOC = "1..255 characters, unique per booking you mean (a UUID); scoped to you, remembered 24 h"


@app.post("/bookings", responses=responses(BookingAccepted, 401, 403, 404, 409, 415, 503, ok_status=202))
def create(
    body: Annotated[CreateBookingBody, Body()],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", description=KEY_DOC)] = None,
) -> Response[Any]:
    principal = require_verified_email(app)
    key = checked_key(app.current_event.headers.get("Idempotency-Key") or app.current_event.headers.get(
        "idempotency-key", idempotency_key))  # fmt: skip
    app.append_context(audit_resource=f"booking/{booking_id_for(principal.user_id, key)}")
    deps: Deps = app.context["deps"]
    ceiling = body.max_price_per_hour.money() if body.max_price_per_hour else None
    request = NewBooking(offer_id=body.offer_id, hours=body.hours, gpu_count=body.gpu_count, max_price_per_hour=ceiling)

    def run() -> dict[str, Any]:
        b = create_booking(principal.user_id, key, request, deps=deps.create, correlation_id=correlation_id())
        answer = BookingAccepted(booking_id=b.booking_id, status=b.status, status_url=f"/bookings/{b.booking_id}",
                                 booking=BookingView.of(b))  # fmt: skip
        return {"status_code": 202, "body": answer.model_dump(mode="json")}

    out = replayed(run, user_id=principal.user_id, key=key, body=body.model_dump(mode="json"),
                   persistence=deps.idempotency, context=app.lambda_context)  # fmt: skip
    return Response(out["status_code"], content_types.APPLICATION_JSON, out["body"])


lambda_handler = api_handler(app, booking_create_deps)
