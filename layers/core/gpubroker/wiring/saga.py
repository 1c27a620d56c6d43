"""The booking saga's step functions (``functions/booking_*``): one ``Deps`` per step, holding only the ports that
step touches (its IAM policy grants the same). Adapters are imported when a step's deps are built."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from gpubroker.config import (
    BookingAttentionSettings,
    BookingChargeSettings,
    BookingConfirmSettings,
    BookingFailSettings,
    BookingNotifySettings,
    BookingRefundSettings,
    BookingReleaseSettings,
    BookingReserveSettings,
    BookingValidateSettings,
    load_settings,
)
from gpubroker.wiring import edge
from gpubroker.wiring.bookings import CapacityFactory, booking_notifier, booking_store, capacity_factory

if TYPE_CHECKING:
    from gpubroker.api.deps import AuditTrail
    from gpubroker.ports import BookingNotifier, BookingStore, Clock, OfferRepository, Payments
    from gpubroker.services.booking_saga import DeadLetters, UserLookup


@dataclass(frozen=True, kw_only=True)
class ValidateDeps:
    bookings: BookingStore
    offers: OfferRepository
    clock: Clock = field(default_factory=edge.system_clock)


@dataclass(frozen=True, kw_only=True)
class ReserveDeps:
    bookings: BookingStore
    offers: OfferRepository
    capacity: CapacityFactory
    clock: Clock = field(default_factory=edge.system_clock)


@dataclass(frozen=True, kw_only=True)
class ChargeDeps:
    """Charge and AwaitPayment: the booking, Stripe, the user (the customer's email)."""

    bookings: BookingStore
    payments: Payments
    users: UserLookup
    clock: Clock = field(default_factory=edge.system_clock)


@dataclass(frozen=True, kw_only=True)
class ConfirmDeps:
    bookings: BookingStore
    payments: Payments
    users: UserLookup
    capacity: CapacityFactory
    audit: AuditTrail
    clock: Clock = field(default_factory=edge.system_clock)


@dataclass(frozen=True, kw_only=True)
class NotifyDeps:
    bookings: BookingStore
    notifier: BookingNotifier


@dataclass(frozen=True, kw_only=True)
class RefundDeps:
    bookings: BookingStore
    payments: Payments
    audit: AuditTrail
    clock: Clock = field(default_factory=edge.system_clock)


@dataclass(frozen=True, kw_only=True)
class ReleaseDeps:
    bookings: BookingStore
    capacity: CapacityFactory


@dataclass(frozen=True, kw_only=True)
class FailDeps:
    bookings: BookingStore
    audit: AuditTrail
    clock: Clock = field(default_factory=edge.system_clock)


@dataclass(frozen=True, kw_only=True)
class AttentionDeps:
    bookings: BookingStore
    dead_letters: DeadLetters
    audit: AuditTrail
    clock: Clock = field(default_factory=edge.system_clock)


def _offers(table: str) -> OfferRepository:
    from gpubroker.adapters.dynamodb import DynamoOfferRepository

    return DynamoOfferRepository(table)


def _users(table: str) -> UserLookup:
    from gpubroker.adapters.auth_store import DynamoUserStore

    return DynamoUserStore(table)


def stripe_payments() -> Payments:
    """The Stripe client (``gpubroker.wiring.billing.payments``, from the environment)."""
    from gpubroker.wiring.billing import payments

    return payments()


@cache
def validate_deps() -> ValidateDeps:
    s = load_settings(BookingValidateSettings)
    return ValidateDeps(bookings=booking_store(s.BOOKINGS_TABLE), offers=_offers(s.OFFERS_TABLE))


@cache
def reserve_deps() -> ReserveDeps:
    s = load_settings(BookingReserveSettings)
    return ReserveDeps(bookings=booking_store(s.BOOKINGS_TABLE), offers=_offers(s.OFFERS_TABLE),
                       capacity=capacity_factory(s.PROVIDER_SECRETS_ID, s.GPUBROKER_CAPACITY_PROVIDER))  # fmt: skip


@cache
def charge_deps() -> ChargeDeps:
    s = load_settings(BookingChargeSettings)
    return ChargeDeps(bookings=booking_store(s.BOOKINGS_TABLE), payments=stripe_payments(), users=_users(s.AUTH_TABLE))


@cache
def confirm_deps() -> ConfirmDeps:
    s = load_settings(BookingConfirmSettings)
    return ConfirmDeps(bookings=booking_store(s.BOOKINGS_TABLE, s.BOOKING_KEY_ID), payments=stripe_payments(),
                       users=_users(s.AUTH_TABLE),
                       capacity=capacity_factory(s.PROVIDER_SECRETS_ID, s.GPUBROKER_CAPACITY_PROVIDER),
                       audit=edge.audit_trail())  # fmt: skip


@cache
def notify_deps() -> NotifyDeps:
    s = load_settings(BookingNotifySettings)
    return NotifyDeps(bookings=booking_store(s.BOOKINGS_TABLE),
                      notifier=booking_notifier(s.CONNECTIONS_TABLE, s.WEBSOCKET_ENDPOINT))  # fmt: skip


@cache
def refund_deps() -> RefundDeps:
    s = load_settings(BookingRefundSettings)
    return RefundDeps(bookings=booking_store(s.BOOKINGS_TABLE), payments=stripe_payments(), audit=edge.audit_trail())


@cache
def release_deps() -> ReleaseDeps:
    s = load_settings(BookingReleaseSettings)
    return ReleaseDeps(bookings=booking_store(s.BOOKINGS_TABLE),
                       capacity=capacity_factory(s.PROVIDER_SECRETS_ID, s.GPUBROKER_CAPACITY_PROVIDER))  # fmt: skip


@cache
def fail_deps() -> FailDeps:
    s = load_settings(BookingFailSettings)
    return FailDeps(bookings=booking_store(s.BOOKINGS_TABLE), audit=edge.audit_trail())


@cache
def attention_deps() -> AttentionDeps:
    from gpubroker.adapters.dead_letters import SqsBookingDeadLetters

    s = load_settings(BookingAttentionSettings)
    return AttentionDeps(bookings=booking_store(s.BOOKINGS_TABLE),
                         dead_letters=SqsBookingDeadLetters(s.BOOKING_DLQ_URL), audit=edge.audit_trail())  # fmt: skip
