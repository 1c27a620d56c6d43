"""In-memory twins of the booking ports (BookingStore, Payments, BookingNotifier, SagaStarter, TaskTokens), with
the semantics the real adapters promise: conditional writes on version, idempotency keys honoured, refunds never
above the charge. Shared by the bookings, saga and billing tests."""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from typing import Any

from gpubroker.domain.bookings import Booking
from gpubroker.domain.errors import PaymentDeclined
from gpubroker.domain.money import Money


class MemoryBookingStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Booking] = {}
        self._lock = threading.Lock()

    def create(self, booking: Booking) -> bool:
        with self._lock:
            key = (booking.user_id, booking.booking_id)
            if key in self.items:
                return False
            self.items[key] = booking
            return True

    def get(self, user_id: str, booking_id: str) -> Booking | None:
        return self.items.get((user_id, booking_id))

    def list(self, user_id: str, *, limit: int, cursor: str | None = None) -> tuple[list[Booking], str | None]:
        mine = sorted((b for (u, _), b in self.items.items() if u == user_id),
                      key=lambda b: (b.created_at, b.booking_id), reverse=True)  # fmt: skip
        start = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
        page = mine[start : start + limit]
        more = start + limit < len(mine)
        return page, (base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else None)

    def save(self, booking: Booking) -> bool:
        with self._lock:
            key = (booking.user_id, booking.booking_id)
            current = self.items.get(key)
            if current is None or current.version != booking.version - 1:
                return False
            self.items[key] = booking
            return True


@dataclass
class PaymentIntent:
    id: str
    customer: str
    amount: Money
    status: str = "succeeded"
    refunded: Money | None = None
    metadata: dict[str, str] = field(default_factory=dict)


class MemoryPayments:
    """Stripe's semantics where the saga depends on them: an idempotency key replays the first answer."""

    def __init__(self) -> None:
        self.customers: dict[str, str] = {}
        self.saved: dict[str, str] = {}  # customer -> payment method
        self.intents: dict[str, PaymentIntent] = {}
        self.refunds: dict[str, tuple[str, Money]] = {}
        self.meter_events: dict[str, tuple[str, int]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self._keys: dict[str, str] = {}
        self.decline: set[str] = set()  # payment methods that are declined
        self._lock = threading.Lock()

    def _once(self, key: str, make: Any) -> str:
        with self._lock:
            if key not in self._keys:
                self._keys[key] = make()
            return self._keys[key]

    def customer_for(self, user_id: str, email: str) -> str:
        def make() -> str:
            cid = f"cus_{len(self.customers) + 1}"
            self.customers[cid] = user_id
            return cid

        return self._once(f"user:{user_id}:customer", make)

    def saved_payment_method(self, customer_id: str) -> str | None:
        return self.saved.get(customer_id)

    def charge(self, *, customer_id: str, payment_method: str, amount: Money, idempotency_key: str,
               metadata: dict[str, str]) -> str:  # fmt: skip
        if payment_method in self.decline:
            raise PaymentDeclined("card_declined")

        def make() -> str:
            pid = f"pi_{len(self.intents) + 1}"
            self.intents[pid] = PaymentIntent(pid, customer_id, amount, metadata=dict(metadata))
            return pid

        return self._once(idempotency_key, make)

    def find_charge(self, payment_intent_id: str) -> tuple[str, Money]:
        pi = self.intents[payment_intent_id]
        return pi.status, pi.amount

    def refund(self, payment_intent_id: str, amount: Money, *, idempotency_key: str) -> str:
        def make() -> str:
            pi = self.intents[payment_intent_id]
            already = pi.refunded or Money.zero(amount.currency)
            if already + amount > pi.amount:
                raise ValueError("refund above the charge")
            pi.refunded = already + amount
            rid = f"re_{len(self.refunds) + 1}"
            self.refunds[rid] = (payment_intent_id, amount)
            return rid

        return self._once(idempotency_key, make)

    def checkout_for_booking(self, *, customer_id: str, amount: Money, description: str, booking_id: str,
                             idempotency_key: str) -> tuple[str, str]:  # fmt: skip
        def make() -> str:
            sid = f"cs_{len(self.sessions) + 1}"
            self.sessions[sid] = {"customer": customer_id, "amount": amount, "booking_id": booking_id}
            return sid

        sid = self._once(idempotency_key, make)
        return sid, f"https://checkout.test/{sid}"

    def checkout_for_plan(self, *, customer_id: str, plan: str, user_id: str, idempotency_key: str) -> tuple[str, str]:
        def make() -> str:
            sid = f"cs_{len(self.sessions) + 1}"
            self.sessions[sid] = {"customer": customer_id, "plan": plan, "user_id": user_id}
            return sid

        sid = self._once(idempotency_key, make)
        return sid, f"https://checkout.test/{sid}"

    def meter_usage(self, *, customer_id: str, gpu_hours: int, identifier: str) -> str:
        with self._lock:
            self.meter_events.setdefault(identifier, (customer_id, gpu_hours))
        return identifier

    def net_charged(self) -> int:
        """Charges minus refunds, in minor units (the fault matrix's money check)."""
        total = sum(pi.amount.amount_minor for pi in self.intents.values() if pi.status == "succeeded")
        return total - sum(m.amount_minor for _, m in self.refunds.values())


class MemoryNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []  # (user, booking, status)

    def notify(self, booking: Booking) -> int:
        self.sent.append((booking.user_id, booking.booking_id, booking.status.value))
        return 1


class MemorySagaStarter:
    def __init__(self) -> None:
        self.started: dict[str, str] = {}
        self._lock = threading.Lock()

    def start(self, booking_id: str, user_id: str, correlation_id: str | None = None) -> str:
        with self._lock:
            return self.started.setdefault(
                booking_id, f"arn:aws:states:us-east-1:123456789012:execution:booking:{booking_id}"
            )


class MemoryTaskTokens:
    def __init__(self) -> None:
        self.outcomes: dict[str, tuple[str, Any]] = {}

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        self.outcomes[token] = ("success", output)

    def fail(self, token: str, error: str, cause: str) -> None:
        self.outcomes[token] = ("failure", {"error": error, "cause": cause})
