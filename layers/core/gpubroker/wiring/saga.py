"""The booking saga's step functions (``functions/booking_*``): one ``Deps`` per step, holding only the ports that
step touches (its IAM policy grants the same). Adapters are imported when a step's deps are built."""

from __future__ import annotations

import os
from collections.abc import Callable
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

if TYPE_CHECKING:
    from gpubroker.api.deps import AuditTrail
    from gpubroker.ports import BookingNotifier, BookingStore, CapacityProvider, Clock, OfferRepository, Payments
    from gpubroker.services.booking_saga import DeadLetters, UserLookup

CapacityFactory = Callable[[str], "CapacityProvider"]


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


def _bookings(table: str) -> BookingStore:
    from gpubroker.adapters.booking_store import DynamoBookingStore

    return DynamoBookingStore(table)


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


def capacity_factory(secret_id: str, override: str) -> CapacityFactory:
    """The create-instance adapter of a booking's provider (``override``, ``GPUBROKER_CAPACITY_PROVIDER``, replaces
    every provider: the local stack's ``sandbox``), one per provider per container."""
    from gpubroker.adapters.provisioning import build_capacity_provider
    from gpubroker.adapters.secrets import ProviderCredentials, SecretsManagerCredentials

    secret = SecretsManagerCredentials(secret_id) if secret_id else None

    @cache
    def build(provider: str) -> CapacityProvider:
        name = override or provider
        scoped = ProviderCredentials(secret, name) if secret is not None else None
        return build_capacity_provider(name, credentials=scoped, environ=os.environ)

    return build


@cache
def validate_deps() -> ValidateDeps:
    s = load_settings(BookingValidateSettings)
    return ValidateDeps(bookings=_bookings(s.BOOKINGS_TABLE), offers=_offers(s.OFFERS_TABLE))


@cache
def reserve_deps() -> ReserveDeps:
    s = load_settings(BookingReserveSettings)
    return ReserveDeps(bookings=_bookings(s.BOOKINGS_TABLE), offers=_offers(s.OFFERS_TABLE),
                       capacity=capacity_factory(s.PROVIDER_SECRETS_ID, s.GPUBROKER_CAPACITY_PROVIDER))  # fmt: skip


@cache
def charge_deps() -> ChargeDeps:
    s = load_settings(BookingChargeSettings)
    return ChargeDeps(bookings=_bookings(s.BOOKINGS_TABLE), payments=stripe_payments(), users=_users(s.AUTH_TABLE))


@cache
def confirm_deps() -> ConfirmDeps:
    s = load_settings(BookingConfirmSettings)
    return ConfirmDeps(bookings=_bookings(s.BOOKINGS_TABLE), payments=stripe_payments(), users=_users(s.AUTH_TABLE),
                       capacity=capacity_factory(s.PROVIDER_SECRETS_ID, s.GPUBROKER_CAPACITY_PROVIDER),
                       audit=edge.audit_trail())  # fmt: skip


@cache
def notify_deps() -> NotifyDeps:
    from gpubroker.adapters.booking_push import WebSocketBookingNotifier
    from gpubroker.adapters.websocket import ApiGatewayConnectionPoster
    from gpubroker.api.booking_models import public_view

    s = load_settings(BookingNotifySettings)
    poster = ApiGatewayConnectionPoster(s.WEBSOCKET_ENDPOINT)
    notifier = WebSocketBookingNotifier(s.CONNECTIONS_TABLE, poster, view=public_view)
    return NotifyDeps(bookings=_bookings(s.BOOKINGS_TABLE), notifier=notifier)


@cache
def refund_deps() -> RefundDeps:
    s = load_settings(BookingRefundSettings)
    return RefundDeps(bookings=_bookings(s.BOOKINGS_TABLE), payments=stripe_payments(), audit=edge.audit_trail())


@cache
def release_deps() -> ReleaseDeps:
    s = load_settings(BookingReleaseSettings)
    return ReleaseDeps(bookings=_bookings(s.BOOKINGS_TABLE),
                       capacity=capacity_factory(s.PROVIDER_SECRETS_ID, s.GPUBROKER_CAPACITY_PROVIDER))  # fmt: skip


@cache
def fail_deps() -> FailDeps:
    s = load_settings(BookingFailSettings)
    return FailDeps(bookings=_bookings(s.BOOKINGS_TABLE), audit=edge.audit_trail())


@cache
def attention_deps() -> AttentionDeps:
    from gpubroker.adapters.dead_letters import SqsBookingDeadLetters

    s = load_settings(BookingAttentionSettings)
    return AttentionDeps(bookings=_bookings(s.BOOKINGS_TABLE), dead_letters=SqsBookingDeadLetters(s.BOOKING_DLQ_URL),
                         audit=edge.audit_trail())  # fmt: skip
