"""What the booking-route tests share: an offer factory, a world of in-memory ports (the booking fakes of
tests/fakes_bookings.py, offers, a clock, a capacity provider that records releases), an in-memory Powertools
persistence layer with DynamoDB's semantics, and a request helper for the handlers."""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from gpubroker.domain.accounts import Principal
from gpubroker.domain.offers import Offer
from gpubroker.domain.provisioning import Reservation
from gpubroker.services.bookings import CancelDeps, CreateDeps
from tests.events import Ctx, rest_event
from tests.fakes import FixedClock, MemoryOfferRepository
from tests.fakes_bookings import MemoryBookingStore, MemoryNotifier, MemoryPayments, MemorySagaStarter


def offer(offer_id: str = "runpod-a100-1", *, provider: str = "runpod", gpu_count: int = 4, available: bool = True,
          price: float = 1.5) -> Offer:  # fmt: skip
    return Offer(offer_id=offer_id, provider=provider, instance_type="x", gpu_model="A100", gpu_vendor="nvidia",
                 gpu_memory_gb=80, gpu_count=gpu_count, region="us-east-1", price_per_hour=price * gpu_count,
                 price_per_gpu_hour=price, available=available, as_of=datetime(2026, 11, 26, tzinfo=UTC))  # fmt: skip


class RecordingCapacity:
    def __init__(self, provider: str, released: list[tuple[str, str]]) -> None:
        self.provider = provider
        self.released = released

    def reserve(self, offer: Offer, *, gpu_count: int, idempotency_key: str) -> Reservation:  # pragma: no cover
        raise NotImplementedError

    def release(self, instance_id: str) -> None:
        self.released.append((self.provider, instance_id))

    def describe(self, instance_id: str) -> Reservation:  # pragma: no cover
        raise NotImplementedError


@dataclass
class BookingWorld:
    store: MemoryBookingStore = field(default_factory=MemoryBookingStore)
    offers: MemoryOfferRepository = field(default_factory=MemoryOfferRepository)
    saga: MemorySagaStarter = field(default_factory=MemorySagaStarter)
    payments: MemoryPayments = field(default_factory=MemoryPayments)
    notifier: MemoryNotifier = field(default_factory=MemoryNotifier)
    clock: FixedClock = field(default_factory=FixedClock)
    released: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for o in (
            offer(),
            offer("lambda-h100-8", provider="lambda", gpu_count=8),
            offer("vast-gone", provider="vast", available=False),
            offer("sandbox-1", provider="sandbox"),
        ):
            self.offers.items[o.offer_id] = o  # fmt: skip

    def create_deps(self) -> CreateDeps:
        return CreateDeps(store=self.store, clock=self.clock, offers=self.offers, saga=self.saga)

    def cancel_deps(self) -> CancelDeps:
        return CancelDeps(store=self.store, clock=self.clock, payments=self.payments,
                          capacity=lambda p: RecordingCapacity(p, self.released), notifier=self.notifier)  # fmt: skip


class MemoryPersistence(BasePersistenceLayer):
    """Powertools' persistence port in memory, with ``DynamoDBPersistenceLayer``'s put condition: a record that
    exists, is not expired and is not an in-progress one past its in-progress expiry refuses the put."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.records: dict[str, DataRecord] = {}
        self._lock = threading.Lock()

    def _get_record(self, idempotency_key: str) -> DataRecord:
        with self._lock:
            if idempotency_key not in self.records:
                raise IdempotencyItemNotFoundError
            return copy.copy(self.records[idempotency_key])

    def _put_record(self, data_record: DataRecord) -> None:
        now = time.time()
        with self._lock:
            old = self.records.get(data_record.idempotency_key)
            if old is not None and (old.expiry_timestamp or 0) > now and not (
                old.status == "INPROGRESS" and old.in_progress_expiry_timestamp is not None
                and old.in_progress_expiry_timestamp < now * 1000
            ):  # fmt: skip
                self._validate_payload(data_payload=data_record, stored_data_record=old)
                raise IdempotencyItemAlreadyExistsError(old_data_record=copy.copy(old))
            self.records[data_record.idempotency_key] = copy.copy(data_record)

    def _update_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self.records[data_record.idempotency_key] = copy.copy(data_record)

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self.records.pop(data_record.idempotency_key, None)


ME = Principal(user_id="u-me", email_verified=True)
OTHER = Principal(user_id="u-other", email_verified=True)


def request(module: Any, method: str, path: str, deps: Any, *, resource: str | None = None,
            principal: Principal | None = ME, body: Any = None, headers: dict[str, str] | None = None,
            query: dict[str, list[str]] | None = None, path_params: dict[str, str] | None = None,
            raw: str | None = None) -> tuple[int, dict[str, Any], dict[str, Any]]:  # fmt: skip
    """Status, JSON body and headers of ``module``'s answer to one API Gateway REST proxy event."""
    ev = rest_event(resource or path, path, query, path_params)
    ev["httpMethod"] = method
    ev["body"] = raw if raw is not None else (json.dumps(body) if body is not None else None)
    ev["headers"] = {"Content-Type": "application/json", **(headers or {})}
    ev["multiValueHeaders"] = {k: [v] for k, v in ev["headers"].items()}
    if principal is not None:
        ev["requestContext"]["authorizer"] = principal.to_context()
    res = module.lambda_handler(ev, Ctx(), deps=deps)
    out_headers = {**(res.get("headers") or {}), **{k: v[-1] for k, v in (res.get("multiValueHeaders") or {}).items()}}
    return int(res["statusCode"]), json.loads(res["body"]), out_headers
