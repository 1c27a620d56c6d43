"""A booking: one user's rental of one offer for a number of hours, and the saga's record of what it did.
Pure data, no I/O.

Lifecycle (``BookingStatus``; the saga in ``statemachines/booking.asl.json`` moves it, one step per state)::

    pending --validate--> price_locked --reserve--> reserved --charge--> charged --confirm--> confirmed
                          (no saved card: charge --> awaiting_payment --Checkout webhook--> charged)
    any non-terminal --a step fails, compensations ran--> failed
    any non-terminal --a compensation failed after its retries--> needs_attention
    confirmed --POST /bookings/{id}/cancel--> cancelled (refund pro rata by started hour)

Terminal: ``failed``, ``cancelled``, ``needs_attention`` (an operator's turn). ``confirmed`` ends the saga but a
user may still cancel it.

The saga's own record (what it created, so that a retried step finds it instead of repeating it) is in the
booking: ``instance_id`` (capacity), ``payment_intent_id`` (the charge), ``refund_id``, ``meter_event_id``.
Connection details are stored sealed and never appear in ``repr`` or logs.

Idempotency keys (Stripe and the providers) are derived from the booking id, one per step:
:func:`step_key` -> ``booking:{id}:charge`` and so on.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from gpubroker.domain.money import Money, from_major

if TYPE_CHECKING:
    from gpubroker.domain.offers import Offer

MIN_HOURS: Final = 1
MAX_HOURS: Final = 720
IDEMPOTENCY_KEY_MAX: Final = 255
IDEMPOTENCY_TTL_S: Final = 24 * 3600
"""``Idempotency-Key`` values are scoped to the user and remembered for 24 h."""

PER_GPU_PROVIDERS: Final = frozenset({"runpod", "vast", "sandbox"})
"""Providers that rent a share of a multi-GPU offer by the GPU (``gpu_count`` below the offer's count, billed
per GPU-hour). Every other provider rents the whole instance: ``gpu_count`` must equal the offer's."""


MIN_CHARGE: Final = {"usd": 50}
"""The smallest amount Stripe charges, in minor units (Stripe's documented minimum charge amounts: USD 0.50). A
booking below it is refused at ``POST /bookings`` (422 ``amount_too_small``) instead of failing at the charge."""


def locked_price(offer: Offer, gpu_count: int) -> Money:
    """The booking's hourly price: per GPU x ``gpu_count`` where the provider rents by the GPU, else the instance's."""
    if offer.provider in PER_GPU_PROVIDERS:
        return from_major(offer.price_per_gpu_hour).times(gpu_count)
    return from_major(offer.price_per_hour)


class BookingStatus(StrEnum):
    PENDING = "pending"
    PRICE_LOCKED = "price_locked"
    RESERVED = "reserved"
    AWAITING_PAYMENT = "awaiting_payment"
    CHARGED = "charged"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NEEDS_ATTENTION = "needs_attention"


TERMINAL: Final = frozenset({BookingStatus.FAILED, BookingStatus.CANCELLED, BookingStatus.NEEDS_ATTENTION})
SAGA_DONE: Final = TERMINAL | {BookingStatus.CONFIRMED}
CANCELLABLE: Final = frozenset(BookingStatus) - TERMINAL


class FailureReason(StrEnum):
    """Machine-readable ``reason`` of a failed booking (the step that failed, or why)."""

    OFFER_NOT_FOUND = "offer_not_found"
    OFFER_UNAVAILABLE = "offer_unavailable"
    PRICE_CHANGED = "price_changed"
    NO_CAPACITY = "no_capacity"
    QUOTA_EXCEEDED = "quota_exceeded"
    PROVIDER_AUTH_FAILED = "provider_auth_failed"
    PROVIDER_REJECTED = "provider_rejected"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_TIMEOUT = "payment_timeout"
    CONFIRM_FAILED = "confirm_failed"
    STEP_FAILED = "step_failed"
    COMPENSATION_FAILED = "compensation_failed"


_ID: Final = re.compile(r"^bk_[a-z2-7]{26}$")


def booking_id_for(user_id: str, idempotency_key: str) -> str:
    """The booking id of a user's request with this ``Idempotency-Key``: derived, not random, so a request retried
    after a crash (between the booking's write and the saga's start) finds the booking its first attempt wrote,
    and the Step Functions execution (named after the booking) is started once."""
    digest = hashlib.sha256(f"{user_id}\x1f{idempotency_key}".encode()).digest()
    return "bk_" + base64.b32encode(digest).decode().lower().rstrip("=")[:26]


def is_booking_id(value: str) -> bool:
    return bool(_ID.match(value))


def step_key(booking_id: str, step: str) -> str:
    """The deterministic idempotency key of one saga step's external call: ``booking:{id}:{step}``."""
    return f"booking:{booking_id}:{step}"


@dataclass(frozen=True, kw_only=True)
class Booking:
    booking_id: str
    user_id: str
    offer_id: str
    provider: str
    gpu_model: str
    gpu_count: int
    hours: int
    status: BookingStatus
    created_at: datetime
    updated_at: datetime
    max_price_per_hour: Money | None = None
    price_per_hour: Money | None = None  # locked by the validate step (whole booking: per GPU x gpu_count)
    amount: Money | None = None  # price_per_hour x hours
    reason: str | None = None  # FailureReason, when failed / needs_attention
    reason_detail: dict[str, Any] = field(default_factory=dict)  # e.g. {"price_per_hour": {...}} for price_changed
    instance_id: str | None = None
    payment_intent_id: str | None = None
    checkout_url: str | None = None  # awaiting_payment: where the user pays
    task_token: str | None = field(default=None, repr=False)  # awaiting_payment: the saga's callback token
    refund_id: str | None = None
    refunded: Money | None = None
    meter_event_id: str | None = None
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None
    connection: dict[str, Any] | None = field(default=None, repr=False)  # sealed at rest; never logged
    correlation_id: str | None = None  # the creating request's id: the saga's logs, audit entries, WebSocket messages
    version: int = 0  # optimistic lock: each write is conditional on the version it read

    def with_status(self, status: BookingStatus, now: datetime, **changes: Any) -> Booking:
        return replace(self, status=status, updated_at=now, version=self.version + 1, **changes)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL
