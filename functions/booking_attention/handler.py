"""Booking saga, state ``Attention``.

A compensation failed for good: dead-letter queue, ``needs_attention``, audit ``booking.attention``.

Input: ``{"booking_id", "user_id"}`` (plus ``error`` / ``task_token`` where the state machine adds them). A domain
error propagates: its class name is the Lambda ``errorType``, which the state machine's Retry and Catch match.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import BookingAttentionSettings
from gpubroker.observability import SAGA_CORRELATION_PATH, event_handler
from gpubroker.services import booking_saga
from gpubroker.services.booking_saga import StepInput
from gpubroker.wiring.saga import AttentionDeps, attention_deps

Settings = BookingAttentionSettings
Deps = AttentionDeps


@event_handler(attention_deps, correlation_id_path=SAGA_CORRELATION_PATH)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    return booking_saga.attention(
        StepInput.of(event), bookings=deps.bookings, dead_letters=deps.dead_letters, audit=deps.audit, clock=deps.clock
    )
