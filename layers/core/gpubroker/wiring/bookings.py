"""The booking routes (``POST /bookings``, ``GET /bookings``, ``GET /bookings/{id}``, ``POST /bookings/{id}/cancel``,
``GET /billing/usage``), and the booking adapters the saga's steps can share: the store, the notifier, the saga
starter and the capacity provider of a booking."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from gpubroker.api.deps import ApiDeps, AuditedApiDeps
from gpubroker.config import (
    BookingCancelSettings,
    BookingCreateSettings,
    BookingGetSettings,
    BookingReadSettings,
    BookingStreamSettings,
    load_settings,
)
from gpubroker.wiring import edge

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

    from gpubroker.ports import BookingNotifier, BookingStore, CapacityProvider, Clock, Payments
    from gpubroker.services.booking_stream import ImageReader
    from gpubroker.services.bookings import CancelDeps, CreateDeps

CapacityFactory = Callable[[str], "CapacityProvider"]


def booking_store(table: str, key_id: str | None = None) -> BookingStore:
    """The bookings table; with ``key_id`` (``BOOKING_KEY_ID``) connection details are sealed on write and opened
    on read (the saga's confirm step and ``GET /bookings/{id}``), without it they are left sealed."""
    from gpubroker.adapters.booking_store import SEAL_PURPOSE, DynamoBookingStore
    from gpubroker.adapters.secretbox import KmsSecretBox

    return DynamoBookingStore(table, box=KmsSecretBox(key_id, purpose=SEAL_PURPOSE) if key_id else None)


def booking_notifier(connections_table: str, websocket_endpoint: str) -> BookingNotifier:
    from gpubroker.adapters.booking_push import WebSocketBookingNotifier
    from gpubroker.adapters.websocket import ApiGatewayConnectionPoster
    from gpubroker.api.booking_models import public_view

    return WebSocketBookingNotifier(connections_table, ApiGatewayConnectionPoster(websocket_endpoint), view=public_view)


def capacity_factory(secret_id: str, override: str = "") -> CapacityFactory:
    """The create-instance adapter of a booking's provider, one per provider per container; ``override``
    (``GPUBROKER_CAPACITY_PROVIDER``: the local stack's ``sandbox``) replaces every provider. Shared by the cancel
    route and the saga's reserve, confirm and release steps."""
    from gpubroker.adapters.provisioning import build_capacity_provider
    from gpubroker.adapters.secrets import ProviderCredentials, SecretsManagerCredentials

    secret = SecretsManagerCredentials(secret_id) if secret_id else None

    @cache
    def build(provider: str) -> CapacityProvider:
        name = override or provider
        scoped = ProviderCredentials(secret, name) if secret is not None else None
        return build_capacity_provider(name, credentials=scoped, environ=os.environ)

    return build


class LazyPayments:
    """The ``Payments`` of ``gpubroker.wiring.billing.payments()`` (``adapters.payments.StripePayments``), built on
    its first call only: building the cancel route's ports loads no Stripe SDK and reads no Stripe secret (a cancel
    with nothing to refund never does)."""

    def __init__(self, factory: Callable[[], Payments] | None = None) -> None:
        self._factory = factory
        self._payments: Payments | None = None

    def _get(self) -> Payments:
        if self._payments is None:
            if self._factory is None:
                from gpubroker.wiring import billing

                self._factory = billing.payments  # type: ignore[attr-defined,unused-ignore]
            assert self._factory is not None
            self._payments = self._factory()
        return self._payments

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)


def payments() -> Payments:
    return cast("Payments", LazyPayments())


def idempotency_store(table: str) -> BasePersistenceLayer:
    """Powertools' DynamoDB persistence on ``IdempotencyTable`` (PK ``id``, TTL ``expiration``), on the shared
    client (built after moto or the local endpoint is up)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from gpubroker.adapters.aws import client

    return DynamoDBPersistenceLayer(table_name=table, boto3_client=client("dynamodb"))


@dataclass(frozen=True, kw_only=True)
class BookingCreateApiDeps(AuditedApiDeps):
    create: CreateDeps
    idempotency: BasePersistenceLayer


def create_service_deps(s: BookingCreateSettings) -> CreateDeps:
    from gpubroker.adapters.dynamodb import DynamoOfferRepository
    from gpubroker.adapters.saga_starter import StepFunctionsSagaStarter
    from gpubroker.services.bookings import CreateDeps

    return CreateDeps(store=booking_store(s.BOOKINGS_TABLE), clock=edge.system_clock(),
                      offers=DynamoOfferRepository(s.OFFERS_TABLE),
                      saga=StepFunctionsSagaStarter(s.BOOKING_STATE_MACHINE_ARN))  # fmt: skip


@cache
def booking_create_deps() -> BookingCreateApiDeps:
    s = load_settings(BookingCreateSettings)
    return BookingCreateApiDeps(front_door=edge.front_door(), audit=edge.audit_trail(), create=create_service_deps(s),
                                idempotency=idempotency_store(s.IDEMPOTENCY_TABLE))  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class BookingReadApiDeps(ApiDeps):
    store: BookingStore
    clock: Clock


@cache
def booking_read_deps() -> BookingReadApiDeps:
    s = load_settings(BookingReadSettings)
    return BookingReadApiDeps(front_door=edge.front_door(), store=booking_store(s.BOOKINGS_TABLE),
                              clock=edge.system_clock())  # fmt: skip


@cache
def booking_get_deps() -> BookingReadApiDeps:
    s = load_settings(BookingGetSettings)
    return BookingReadApiDeps(front_door=edge.front_door(), store=booking_store(s.BOOKINGS_TABLE, s.BOOKING_KEY_ID),
                              clock=edge.system_clock())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class BookingCancelApiDeps(AuditedApiDeps):
    cancel: CancelDeps


@cache
def booking_cancel_deps() -> BookingCancelApiDeps:
    from gpubroker.services.bookings import CancelDeps

    s = load_settings(BookingCancelSettings)
    cancel = CancelDeps(store=booking_store(s.BOOKINGS_TABLE), clock=edge.system_clock(), payments=payments(),
                        capacity=capacity_factory(s.PROVIDER_SECRETS_ID, s.GPUBROKER_CAPACITY_PROVIDER),
                        notifier=booking_notifier(s.CONNECTIONS_TABLE, s.WEBSOCKET_ENDPOINT))  # fmt: skip
    return BookingCancelApiDeps(front_door=edge.front_door(), audit=edge.audit_trail(), cancel=cancel)


@dataclass(frozen=True, kw_only=True)
class BookingStreamDeps:
    """The bookings stream's pusher: the image reader (the store's conversion, no key) and the notifier."""

    read: ImageReader
    notifier: BookingNotifier


@cache
def booking_stream_deps() -> BookingStreamDeps:
    from gpubroker.adapters.booking_store import booking_from_item

    s = load_settings(BookingStreamSettings)
    return BookingStreamDeps(read=booking_from_item, notifier=booking_notifier(s.CONNECTIONS_TABLE,
                                                                             s.WEBSOCKET_ENDPOINT))  # fmt: skip
