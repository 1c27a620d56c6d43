"""Booking saga, state ``Reserve``.

Reserve capacity at the provider, recording the instance id (``ProviderUnavailable`` is retried).

Input: ``{"booking_id", "user_id"}`` (plus ``error`` / ``task_token`` where the state machine adds them). A domain
error propagates: its class name is the Lambda ``errorType``, which the state machine's Retry and Catch match.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import BookingReserveSettings
from gpubroker.observability import SAGA_CORRELATION_PATH, event_handler
from gpubroker.services import booking_saga
from gpubroker.services.booking_saga import StepInput
from gpubroker.wiring.saga import ReserveDeps, reserve_deps

Settings = BookingReserveSettings
Deps = ReserveDeps


@event_handler(reserve_deps, correlation_id_path=SAGA_CORRELATION_PATH)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    return booking_saga.reserve(
        StepInput.of(event), bookings=deps.bookings, offers=deps.offers, capacity=deps.capacity, clock=deps.clock
    )
