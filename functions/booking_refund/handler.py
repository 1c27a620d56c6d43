"""Booking saga, state ``Refund``.

Compensation: refund the charge, if any (recorded; audit ``booking.refund``).

Input: ``{"booking_id", "user_id"}`` (plus ``error`` / ``task_token`` where the state machine adds them). A domain
error propagates: its class name is the Lambda ``errorType``, which the state machine's Retry and Catch match.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import BookingRefundSettings
from gpubroker.observability import SAGA_CORRELATION_PATH, event_handler
from gpubroker.services import booking_saga
from gpubroker.services.booking_saga import StepInput
from gpubroker.wiring.saga import RefundDeps, refund_deps

Settings = BookingRefundSettings
Deps = RefundDeps


@event_handler(refund_deps, correlation_id_path=SAGA_CORRELATION_PATH)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    return booking_saga.refund(
        StepInput.of(event), bookings=deps.bookings, payments=deps.payments, audit=deps.audit, clock=deps.clock
    )
