"""The booking saga's world in memory: one store, one Stripe, one sandbox-like provider, shared by every step's
``Deps`` (unit tests and the moto state-machine test), plus fault injection per step."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gpubroker.api.deps import AuditTrail
from gpubroker.domain.accounts import User
from gpubroker.domain.bookings import Booking, BookingStatus, booking_id_for
from gpubroker.domain.errors import NoCapacity, ProviderUnavailable
from gpubroker.domain.money import Money
from gpubroker.domain.offers import Offer
from gpubroker.domain.provisioning import ConnectionDetails, InstanceStatus, Reservation
from gpubroker.wiring import saga
from tests.fakes import MemoryOfferRepository
from tests.fakes_audit import MemoryAuditLog, MemorySpool
from tests.fakes_auth import MemoryUsers
from tests.fakes_bookings import MemoryBookingStore, MemoryNotifier, MemoryPayments


class MemoryCapacity:
    """Sandbox-like ``CapacityProvider``: a GPU limit per model, reserve idempotent by key, release idempotent
    (unknown or terminated: success), ``fail_next[op]`` errors to raise on the next calls, and the live list."""

    provider = "sandbox"

    def __init__(self, limit: int = 8) -> None:
        self.limit = limit
        self.instances: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, str] = {}
        self.fail_next: dict[str, list[Exception]] = {}
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def _fault(self, op: str) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1
        queue = self.fail_next.get(op)
        if queue:
            raise queue.pop(0)

    def reserve(self, offer: Offer, *, gpu_count: int, idempotency_key: str) -> Reservation:
        with self._lock:
            self._fault("reserve")
            if idempotency_key in self.by_key:
                return self._res(self.by_key[idempotency_key])
            if sum(i["gpus"] for i in self.live_raw()) + gpu_count > self.limit:
                raise NoCapacity("sandbox is full", provider="sandbox")
            iid = f"sbx-{uuid.uuid4().hex[:10]}"
            self.instances[iid] = {"gpus": gpu_count, "status": InstanceStatus.RUNNING, "key": idempotency_key}
            self.by_key[idempotency_key] = iid
            return self._res(iid)

    def release(self, instance_id: str) -> None:
        with self._lock:
            self._fault("release")
            inst = self.instances.get(instance_id)
            if inst is not None:
                inst["status"] = InstanceStatus.TERMINATED

    def describe(self, instance_id: str) -> Reservation:
        with self._lock:
            self._fault("describe")
            return self._res(instance_id)

    def _res(self, iid: str) -> Reservation:
        inst = self.instances.get(iid)
        status = inst["status"] if inst else InstanceStatus.TERMINATED
        conn = ConnectionDetails(host="10.0.0.7", port=22, user="ubuntu")
        return Reservation("sandbox", iid, status, connection=conn)

    def live_raw(self) -> list[dict[str, Any]]:
        return [i for i in self.instances.values() if i["status"] != InstanceStatus.TERMINATED]

    def live(self) -> list[str]:
        return [k for k, i in self.instances.items() if i["status"] != InstanceStatus.TERMINATED]


class FailingNotifier(MemoryNotifier):
    def __init__(self) -> None:
        super().__init__()
        self.fail_next: list[Exception] = []

    def notify(self, booking: Booking) -> int:
        if self.fail_next:
            raise self.fail_next.pop(0)
        return super().notify(booking)


class FlakyPayments(MemoryPayments):
    """``MemoryPayments`` with ``fail_next[method]``: errors raised before the call (``before``) or after it
    succeeded (``after``: the call happened, the step never saw its answer - a Lambda timeout mid-step)."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next: dict[str, list[tuple[str, Exception]]] = {}
        self.calls: dict[str, int] = {}

    def _wrap(self, name: str, call: Callable[[], Any]) -> Any:
        self.calls[name] = self.calls.get(name, 0) + 1
        queue = self.fail_next.get(name) or []
        when, exc = queue.pop(0) if queue else ("", None)
        if exc is not None and when == "before":
            raise exc
        out = call()
        if exc is not None:
            raise exc
        return out

    def charge(self, **kw: Any) -> str:
        return str(self._wrap("charge", lambda: super(FlakyPayments, self).charge(**kw)))

    def refund(self, payment_intent_id: str, amount: Money, *, idempotency_key: str) -> str:
        return str(self._wrap("refund", lambda: super(FlakyPayments, self).refund(
            payment_intent_id, amount, idempotency_key=idempotency_key)))  # fmt: skip

    def meter_usage(self, **kw: Any) -> str:
        return str(self._wrap("meter_usage", lambda: super(FlakyPayments, self).meter_usage(**kw)))


class ListDeadLetters:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def put(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


@dataclass
class TickingClock:
    t: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 12, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return datetime.now(UTC)


USER = User(user_id="u_alice", email="alice@example.test", password_hash="x")


def an_offer(offer_id: str = "sandbox-h100-local", *, price: float = 2.5, gpus: int = 8, **kw: Any) -> Offer:
    fields: dict[str, Any] = {
        "offer_id": offer_id, "provider": "sandbox", "instance_type": "h100x8", "gpu_model": "H100-80GB",
        "gpu_vendor": "nvidia", "gpu_memory_gb": 80, "gpu_count": gpus, "region": "local",
        "price_per_hour": price * gpus, "price_per_gpu_hour": price, "as_of": datetime(2026, 12, 1, tzinfo=UTC),
    }  # fmt: skip
    fields.update(kw)
    return Offer(**fields)


class SagaWorld:
    def __init__(self) -> None:
        self.bookings = MemoryBookingStore()
        self.payments = FlakyPayments()
        self.capacity = MemoryCapacity()
        self.notifier = FailingNotifier()
        self.offers = MemoryOfferRepository()
        self.users = MemoryUsers()
        self.users.create(USER)
        self.audit_log = MemoryAuditLog()
        self.audit = AuditTrail(log=self.audit_log, spool=MemorySpool())
        self.dlq = ListDeadLetters()
        self.clock = TickingClock()
        self.offers.put_many([an_offer()])
        customer = self.payments.customer_for(USER.user_id, USER.email)
        self.payments.saved[customer] = "pm_card_visa"

    def cap(self, provider: str) -> MemoryCapacity:
        return self.capacity

    def booking(self, key: str = "k1", *, hours: int = 3, gpu_count: int = 2, offer_id: str = "sandbox-h100-local",
                max_price: Money | None = None) -> Booking:  # fmt: skip
        now = datetime.now(UTC)
        b = Booking(booking_id=booking_id_for(USER.user_id, key), user_id=USER.user_id, offer_id=offer_id,
                    provider="sandbox", gpu_model="H100-80GB", gpu_count=gpu_count, hours=hours,
                    status=BookingStatus.PENDING, created_at=now, updated_at=now,
                    max_price_per_hour=max_price)  # fmt: skip
        assert self.bookings.create(b)
        return b

    def get(self, b: Booking) -> Booking:
        got = self.bookings.get(b.user_id, b.booking_id)
        assert got is not None
        return got

    def actions(self, b: Booking) -> list[str]:
        resource = f"booking/{b.booking_id}"
        return [e.action for n in range(self.audit_log.shards) for e in self.audit_log.all_entries(n)
                if e.resource == resource]  # fmt: skip

    def deps(self, step: str) -> Any:
        """The ``Deps`` of step function ``booking_<step>``, over this world's fakes."""
        common = {"bookings": self.bookings}
        made: dict[str, Any] = {
            "validate": lambda: saga.ValidateDeps(**common, offers=self.offers, clock=self.clock),
            "reserve": lambda: saga.ReserveDeps(**common, offers=self.offers, capacity=self.cap, clock=self.clock),
            "charge": lambda: saga.ChargeDeps(**common, payments=self.payments, users=self.users, clock=self.clock),
            "await_payment": lambda: saga.ChargeDeps(
                **common, payments=self.payments, users=self.users, clock=self.clock
            ),
            "confirm": lambda: saga.ConfirmDeps(
                **common,
                payments=self.payments,
                users=self.users,
                capacity=self.cap,
                audit=self.audit,
                clock=self.clock,
            ),
            "notify": lambda: saga.NotifyDeps(**common, notifier=self.notifier),
            "refund": lambda: saga.RefundDeps(**common, payments=self.payments, audit=self.audit, clock=self.clock),
            "release": lambda: saga.ReleaseDeps(**common, capacity=self.cap),
            "fail": lambda: saga.FailDeps(**common, audit=self.audit, clock=self.clock),
            "attention": lambda: saga.AttentionDeps(
                **common, dead_letters=self.dlq, audit=self.audit, clock=self.clock
            ),
        }
        return made[step]()


__all__ = ["MemoryCapacity", "ProviderUnavailable", "SagaWorld", "an_offer"]
