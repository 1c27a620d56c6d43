"""The booking saga's steps (``statemachines/booking.asl.json``): one function per state, each over keyword ports.

Each step reads the booking, does its one external call, and records what it created in the booking (instance id,
PaymentIntent id, refund id) by a conditional write BEFORE it returns, so a retried step (Step Functions retries a
transient error; a Lambda may time out after the call) reads the booking and finds it instead of repeating it. The
external calls also carry the step's deterministic key (``step_key(id, "charge")`` ...), so a call made twice
(a crash between the call and the write) is made once at Stripe or the provider.

A step on a booking already past it (a retry after success) is a no-op answering the same result. Every status
write re-reads, ``with_status``, saves conditionally on the version read, and retries a lost race.

Errors propagate: their class name is the ASL error name (``ProviderUnavailable``, ``PaymentsUnavailable``: retried;
anything else: the compensations run). A transient ``ProvisioningError`` is raised as ``ProviderUnavailable`` so the
state machine retries it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from gpubroker.domain.bookings import (
    SAGA_DONE,
    TERMINAL,
    Booking,
    BookingStatus,
    FailureReason,
    locked_price,
    step_key,
)
from gpubroker.domain.errors import (
    BookingClosed,
    BookingNotFound,
    InvalidRequest,
    OfferNotFound,
    OfferUnavailable,
    PaymentDeclined,
    PriceChanged,
    ProviderRejected,
    ProviderUnavailable,
    ProvisioningError,
)
from gpubroker.domain.money import price_for_hours
from gpubroker.domain.provisioning import InstanceStatus
from gpubroker.observability import count, logger

if TYPE_CHECKING:
    from gpubroker.domain.accounts import User
    from gpubroker.ports import (
        AuditLog,
        AuditSpool,
        BookingNotifier,
        BookingStore,
        CapacityProvider,
        Clock,
        OfferRepository,
        Payments,
    )

SAVE_ATTEMPTS: Final = 5
"""Conditional writes per status change before giving up (a lost race means another writer - the cancel route,
the Checkout webhook - changed the booking between our read and our write)."""

CapacityFactory = Callable[[str], "CapacityProvider"]
"""The provider's create-instance adapter, by the booking's provider name (the local stack answers ``sandbox``)."""


class UserLookup(Protocol):
    def by_id(self, user_id: str) -> User | None: ...


class AuditTrail(Protocol):
    """Where an audit entry goes: the log, and the spool that keeps one whose append failed
    (``gpubroker.api.deps.AuditTrail`` is one)."""

    @property
    def log(self) -> AuditLog: ...

    @property
    def spool(self) -> AuditSpool: ...


class DeadLetters(Protocol):
    """The booking dead-letter queue (``BOOKING_DLQ_URL``): bookings an operator must look at."""

    def put(self, message: dict[str, Any]) -> None: ...


ERROR_REASONS: Final[dict[str, FailureReason]] = {
    "OfferNotFound": FailureReason.OFFER_NOT_FOUND,
    "OfferUnavailable": FailureReason.OFFER_UNAVAILABLE,
    "PriceChanged": FailureReason.PRICE_CHANGED,
    "NoCapacity": FailureReason.NO_CAPACITY,
    "QuotaExceeded": FailureReason.QUOTA_EXCEEDED,
    "ProviderAuthFailed": FailureReason.PROVIDER_AUTH_FAILED,
    "ProviderRejected": FailureReason.PROVIDER_REJECTED,
    "ProviderUnavailable": FailureReason.PROVIDER_UNAVAILABLE,
    "PaymentDeclined": FailureReason.PAYMENT_FAILED,
    "PaymentsUnavailable": FailureReason.PAYMENT_FAILED,
    "PaymentTimeout": FailureReason.PAYMENT_TIMEOUT,
}
"""The ASL error of the failed step (``$.error.Error``) -> the booking's ``reason``."""


@dataclass(frozen=True)
class StepInput:
    """What every step Lambda receives: the execution's input, plus ``error`` (the Catch's ``{"Error",
    "Cause"}``) for the compensations and ``task_token`` for the Checkout wait."""

    booking_id: str
    user_id: str
    error: Mapping[str, Any] | None = None
    task_token: str | None = None

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> StepInput:
        booking_id, user_id = event.get("booking_id"), event.get("user_id")
        if not isinstance(booking_id, str) or not booking_id or not isinstance(user_id, str) or not user_id:
            raise InvalidRequest("a saga step needs booking_id and user_id")
        error = event.get("error")
        token = event.get("task_token")
        return cls(booking_id, user_id, error if isinstance(error, Mapping) else None,
                   token if isinstance(token, str) and token else None)  # fmt: skip

    @property
    def error_name(self) -> str:
        return str((self.error or {}).get("Error") or "")


def _load(bookings: BookingStore, ref: StepInput) -> Booking:
    booking = bookings.get(ref.user_id, ref.booking_id)
    if booking is None:
        raise BookingNotFound(f"no booking {ref.booking_id}")
    return booking


def _write(bookings: BookingStore, ref: StepInput, change: Callable[[Booking], Booking | None]) -> Booking:
    return _write2(bookings, ref, change)[0]


def _write2(
    bookings: BookingStore, ref: StepInput, change: Callable[[Booking], Booking | None]
) -> tuple[Booking, bool]:
    """Re-read, apply ``change`` (``None``: nothing to write, the booking as read is the answer), save
    conditionally; a lost race re-reads and tries again. The booking, and whether this call wrote it."""
    for _ in range(SAVE_ATTEMPTS):
        current = _load(bookings, ref)
        updated = change(current)
        if updated is None:
            return current, False
        if bookings.save(updated):
            return updated, True
    raise RuntimeError(f"booking {ref.booking_id}: lost {SAVE_ATTEMPTS} write races in a row")


OUTCOME_METRICS: Final = {
    "booking.confirm": "BookingsConfirmed",
    "booking.fail": "BookingsFailed",
    "booking.refund": "BookingsCompensated",
    "booking.attention": "BookingsNeedingAttention",
}
"""The business counter of each audited saga transition (written once: a retried step finds it done)."""


def _audit(audit: AuditTrail, action: str, booking: Booking, now: datetime, outcome: str = "ok") -> None:
    """One audit entry (actor ``user:<id>``, resource ``booking/<id>``); a failed append goes to the spool. The
    transition's business metric too (``OUTCOME_METRICS``; a confirmation adds its amount to ``RevenueCents``)."""
    count(OUTCOME_METRICS[action])
    if action == "booking.confirm" and booking.amount is not None:
        count("RevenueCents", booking.amount.amount_minor)
    entry = {
        "ts": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "actor": f"user:{booking.user_id}",
        "action": action,
        "resource": f"booking/{booking.booking_id}",
        # the creating request's correlation id ties the saga's entries to the request's; bookings made before it
        # was kept fall back to the step's key
        "request_id": booking.correlation_id or step_key(booking.booking_id, action.removeprefix("booking.")),
        "outcome": outcome,
    }
    try:
        audit.log.append(**entry)
        count("AuditAppends")
    except Exception:  # the transition is written: spool the entry rather than fail the step
        logger.warning("audit append failed: spooled", exc_info=True, extra={"audit_entry": entry})
        try:
            audit.spool.put(entry)
        except Exception:
            logger.exception("audit entry lost", extra={"audit_entry": entry})


def _provisioning(exc: ProvisioningError) -> ProvisioningError:
    """A transient provider error as ``ProviderUnavailable`` (the ASL retries that name); others unchanged."""
    if exc.transient and not isinstance(exc, ProviderUnavailable):
        return ProviderUnavailable(exc.message, provider=exc.provider, details=exc.details)
    return exc


def _open(booking: Booking) -> None:
    if booking.status in TERMINAL:
        raise BookingClosed(f"booking {booking.booking_id} is {booking.status.value}")


def _prices(booking: Booking) -> dict[str, Any]:
    assert booking.price_per_hour is not None and booking.amount is not None
    return {"price_per_hour": booking.price_per_hour.to_json(), "amount": booking.amount.to_json()}


# --- forward steps -------------------------------------------------------------------------------------------


def validate(ref: StepInput, *, bookings: BookingStore, offers: OfferRepository, clock: Clock) -> dict[str, Any]:
    """The offer exists and is available; lock its price and the amount (``price_changed`` above the cap)."""
    booking = _load(bookings, ref)
    if booking.status != BookingStatus.PENDING and booking.amount is not None:
        return _prices(booking)  # a retry after success
    _open(booking)
    offer = offers.get(booking.offer_id)
    if offer is None:
        raise OfferNotFound(f"offer {booking.offer_id} no longer exists")
    if not offer.available:
        raise OfferUnavailable(f"offer {booking.offer_id} is not available")
    price = locked_price(offer, booking.gpu_count)
    cap = booking.max_price_per_hour
    if cap is not None and price > cap:
        detail = {"price_per_hour": price.to_json(), "max_price_per_hour": cap.to_json()}
        _write(bookings, ref, lambda b: None if b.reason_detail == detail else
               b.with_status(b.status, clock.now(), reason_detail=detail))  # fmt: skip
        raise PriceChanged(f"the price is now {price} per hour, above the cap {cap}", details=detail)
    amount = price_for_hours(price, booking.hours)

    def lock(b: Booking) -> Booking | None:
        if b.status != BookingStatus.PENDING:
            _open(b)
            return None
        return b.with_status(BookingStatus.PRICE_LOCKED, clock.now(), price_per_hour=price, amount=amount)

    return _prices(_write(bookings, ref, lock))


def reserve(
    ref: StepInput, *, bookings: BookingStore, offers: OfferRepository, capacity: CapacityFactory, clock: Clock
) -> dict[str, Any]:
    """Create the instance (idempotency key ``booking:{id}:reserve``) and record its id before answering."""
    booking = _load(bookings, ref)
    if booking.instance_id:
        return {"instance_id": booking.instance_id}
    _open(booking)
    if booking.status != BookingStatus.PRICE_LOCKED:
        raise BookingClosed(f"booking {booking.booking_id} is {booking.status.value}, not price_locked")
    offer = offers.get(booking.offer_id)
    if offer is None:
        raise OfferNotFound(f"offer {booking.offer_id} no longer exists")
    try:
        made = capacity(booking.provider).reserve(offer, gpu_count=booking.gpu_count,
                                                  idempotency_key=step_key(booking.booking_id, "reserve"))  # fmt: skip
    except ProvisioningError as exc:
        raise _provisioning(exc) from exc

    def record(b: Booking) -> Booking | None:
        if b.instance_id == made.instance_id:
            return None
        status = BookingStatus.RESERVED if b.status == BookingStatus.PRICE_LOCKED else b.status
        return b.with_status(status, clock.now(), instance_id=made.instance_id)  # recorded even if closed

    saved = _write(bookings, ref, record)
    _open(saved)  # cancelled meanwhile: the instance is recorded, the compensations release it
    return {"instance_id": made.instance_id}


def charge(
    ref: StepInput, *, bookings: BookingStore, payments: Payments, users: UserLookup, clock: Clock
) -> dict[str, Any]:
    """Charge the saved card (key ``booking:{id}:charge``), recording the PaymentIntent before answering; with no
    saved card: ``{"needs_checkout": true}`` (the state machine then waits for the Checkout webhook)."""
    booking = _load(bookings, ref)
    if booking.payment_intent_id:
        return {"needs_checkout": False, "payment_intent_id": booking.payment_intent_id}
    _open(booking)
    if booking.status not in {BookingStatus.RESERVED, BookingStatus.AWAITING_PAYMENT} or booking.amount is None:
        raise BookingClosed(f"booking {booking.booking_id} is {booking.status.value}, not reserved")
    customer = payments.customer_for(booking.user_id, _email(users, booking.user_id))
    method = payments.saved_payment_method(customer)
    if method is None:
        return {"needs_checkout": True}
    intent = payments.charge(customer_id=customer, payment_method=method, amount=booking.amount,
                             idempotency_key=step_key(booking.booking_id, "charge"),
                             metadata={"booking_id": booking.booking_id, "user_id": booking.user_id})  # fmt: skip
    saved = _write(bookings, ref, lambda b: _paid(b, intent, clock.now()))
    _open(saved)
    return {"needs_checkout": False, "payment_intent_id": intent}


def _paid(booking: Booking, intent: str, now: datetime) -> Booking | None:
    """Record a PaymentIntent (status ``charged`` from reserved/awaiting_payment; recorded whatever the status, so
    the refund finds it)."""
    if booking.payment_intent_id == intent:
        return None
    moving = booking.status in {BookingStatus.RESERVED, BookingStatus.AWAITING_PAYMENT}
    return booking.with_status(BookingStatus.CHARGED if moving else booking.status, now, payment_intent_id=intent)


def _email(users: UserLookup, user_id: str) -> str:
    user = users.by_id(user_id)
    return user.email if user is not None else ""


def await_payment(
    ref: StepInput, *, bookings: BookingStore, payments: Payments, users: UserLookup, clock: Clock
) -> dict[str, Any]:
    """Open a Checkout Session (key ``booking:{id}:checkout``) and store the task token and the URL (status
    ``awaiting_payment``). The webhook completes the token; a retried invocation brings a new token, stored."""
    if not ref.task_token:
        raise InvalidRequest("await_payment needs the task token")
    booking = _load(bookings, ref)
    _open(booking)
    if booking.amount is None:
        raise BookingClosed(f"booking {booking.booking_id} has no locked price")
    customer = payments.customer_for(booking.user_id, _email(users, booking.user_id))
    description = (
        f"GPUBroker booking {booking.booking_id}: {booking.gpu_count} x {booking.gpu_model}, {booking.hours} h"
    )
    _, url = payments.checkout_for_booking(customer_id=customer, amount=booking.amount, description=description,
                                           booking_id=booking.booking_id,
                                           idempotency_key=step_key(booking.booking_id, "checkout"))  # fmt: skip

    def wait(b: Booking) -> Booking | None:
        _open(b)
        if b.task_token == ref.task_token and b.checkout_url == url:
            return None
        status = BookingStatus.AWAITING_PAYMENT if b.status == BookingStatus.RESERVED else b.status
        return b.with_status(status, clock.now(), task_token=ref.task_token, checkout_url=url)

    _write(bookings, ref, wait)
    return {"checkout_url": url}


def confirm(
    ref: StepInput,
    *,
    bookings: BookingStore,
    payments: Payments,
    users: UserLookup,
    capacity: CapacityFactory,
    audit: AuditTrail,
    clock: Clock,
) -> dict[str, Any]:
    """Status ``confirmed`` with the connection details (sealed by the store, never logged), the GPU-hours metered
    (identifier ``booking:{id}:usage``: a retry counts once), audit ``booking.confirm``."""
    booking = _load(bookings, ref)
    if booking.status == BookingStatus.CONFIRMED:
        return {"status": BookingStatus.CONFIRMED.value}
    _open(booking)
    if not booking.payment_intent_id:
        raise PaymentDeclined(f"booking {booking.booking_id} has no payment recorded")
    if not booking.instance_id:
        raise ProviderRejected(f"booking {booking.booking_id} has no instance", provider=booking.provider)
    try:
        instance = capacity(booking.provider).describe(booking.instance_id)
    except ProvisioningError as exc:
        raise _provisioning(exc) from exc
    if instance.status in {InstanceStatus.TERMINATED, InstanceStatus.FAILED}:
        raise ProviderRejected(
            f"instance of {booking.booking_id} is {instance.status.value}", provider=booking.provider
        )
    customer = payments.customer_for(booking.user_id, _email(users, booking.user_id))
    meter = payments.meter_usage(customer_id=customer, gpu_hours=booking.hours * booking.gpu_count,
                                 identifier=step_key(booking.booking_id, "usage"))  # fmt: skip
    now = clock.now()

    def done(b: Booking) -> Booking | None:
        if b.status == BookingStatus.CONFIRMED:
            return None
        _open(b)
        return b.with_status(BookingStatus.CONFIRMED, now, connection=instance.connection.as_dict(),
                             confirmed_at=now, meter_event_id=meter)  # fmt: skip

    saved, wrote = _write2(bookings, ref, done)
    if wrote:
        _audit(audit, "booking.confirm", saved, now)
    return {"status": BookingStatus.CONFIRMED.value}


def notify(ref: StepInput, *, bookings: BookingStore, notifier: BookingNotifier) -> dict[str, Any]:
    """Push the booking's status to its owner's connections (best effort: the saga succeeds without it)."""
    return {"reached": notifier.notify(_load(bookings, ref))}


# --- compensations (each accepts "nothing to undo") ------------------------------------------------------------


def refund(
    ref: StepInput, *, bookings: BookingStore, payments: Payments, audit: AuditTrail, clock: Clock
) -> dict[str, Any]:
    """Refund the whole charge (key ``booking:{id}:refund``) and record the refund id; audit ``booking.refund``.
    Also the webhook's answer to a Checkout paid after the saga gave up on it (``refund_late_payment``)."""
    booking = _load(bookings, ref)
    if booking.refund_id:
        return {"refund_id": booking.refund_id}
    if not booking.payment_intent_id:
        return {"refund_id": None}
    status, received = payments.find_charge(booking.payment_intent_id)
    if status != "succeeded" or received.amount_minor <= 0:
        logger.info("nothing to refund", extra={"booking_id": booking.booking_id, "intent_status": status})
        return {"refund_id": None}
    refund_id = payments.refund(booking.payment_intent_id, received,
                                idempotency_key=step_key(booking.booking_id, "refund"))  # fmt: skip
    now = clock.now()
    saved, wrote = _write2(bookings, ref, lambda b: None if b.refund_id else
                           b.with_status(b.status, now, refund_id=refund_id, refunded=received))  # fmt: skip
    if wrote:
        _audit(audit, "booking.refund", saved, now)
    return {"refund_id": refund_id}


def release(ref: StepInput, *, bookings: BookingStore, capacity: CapacityFactory) -> dict[str, Any]:
    """Terminate the instance, if one was recorded (an instance already gone is success)."""
    booking = _load(bookings, ref)
    if not booking.instance_id:
        return {"released": None}
    try:
        capacity(booking.provider).release(booking.instance_id)
    except ProvisioningError as exc:
        raise _provisioning(exc) from exc
    count("InstancesReleased")
    return {"released": booking.instance_id}


def failure_reason(error_name: str, status: BookingStatus) -> FailureReason:
    """The booking's ``reason`` for the ASL error of the failed step (the step told by the booking's status when the
    error alone does not say)."""
    if error_name in ERROR_REASONS:
        return ERROR_REASONS[error_name]
    if error_name == "States.Timeout" and status == BookingStatus.AWAITING_PAYMENT:
        return FailureReason.PAYMENT_TIMEOUT
    if status in {BookingStatus.CHARGED, BookingStatus.CONFIRMED}:
        return FailureReason.CONFIRM_FAILED
    return FailureReason.STEP_FAILED


def fail(ref: StepInput, *, bookings: BookingStore, audit: AuditTrail, clock: Clock) -> dict[str, Any]:
    """Status ``failed`` with the reason of the Catch's ``$.error``; audit ``booking.fail``."""
    now = clock.now()

    def mark(b: Booking) -> Booking | None:
        if b.status in TERMINAL:
            return None
        reason = failure_reason(ref.error_name, b.status)
        detail = {**b.reason_detail, "error": ref.error_name or "unknown", "failed_in": b.status.value}
        return b.with_status(BookingStatus.FAILED, now, reason=reason.value, reason_detail=detail, task_token=None)

    saved, wrote = _write2(bookings, ref, mark)
    if wrote:
        _audit(audit, "booking.fail", saved, now, outcome=f"failed:{saved.reason}")
    return {"status": saved.status.value, "reason": saved.reason}


def attention(
    ref: StepInput, *, bookings: BookingStore, dead_letters: DeadLetters, audit: AuditTrail, clock: Clock
) -> dict[str, Any]:
    """A compensation failed after its retries: the booking to the dead-letter queue (an alarm watches it), status
    ``needs_attention``, audit ``booking.attention``. The message goes first: a retry after the write finds the
    booking done and sends nothing more."""
    booking = _load(bookings, ref)
    if booking.status == BookingStatus.NEEDS_ATTENTION:
        return {"status": booking.status.value}
    cause = str((ref.error or {}).get("Cause") or "")[:2000]
    dead_letters.put({"booking_id": booking.booking_id, "user_id": booking.user_id, "status": booking.status.value,
                      "instance_id": booking.instance_id, "payment_intent_id": booking.payment_intent_id,
                      "refund_id": booking.refund_id, "error": ref.error_name, "cause": cause})  # fmt: skip
    now = clock.now()

    def mark(b: Booking) -> Booking | None:
        if b.status == BookingStatus.NEEDS_ATTENTION:
            return None
        detail = {**b.reason_detail, "error": ref.error_name or "unknown", "failed_in": b.status.value}
        return b.with_status(BookingStatus.NEEDS_ATTENTION, now, reason=FailureReason.COMPENSATION_FAILED.value,
                             reason_detail=detail)  # fmt: skip

    saved, wrote = _write2(bookings, ref, mark)
    if wrote:
        _audit(audit, "booking.attention", saved, now, outcome=f"needs_attention:{ref.error_name or 'unknown'}")
    return {"status": saved.status.value}


def refund_late_payment(
    booking: Booking, *, bookings: BookingStore, payments: Payments, audit: AuditTrail, clock: Clock
) -> str | None:
    """A Checkout Session paid after its booking ended (the saga's payment window ran out, the user cancelled): the
    money goes back at once, as the Refund step would have done (same key, recorded, audited). The refund id."""
    if booking.status not in TERMINAL or not booking.payment_intent_id:
        return None
    out = refund(StepInput(booking.booking_id, booking.user_id), bookings=bookings, payments=payments, audit=audit,
                 clock=clock)  # fmt: skip
    refund_id = out.get("refund_id")
    return refund_id if isinstance(refund_id, str) else None


def record_checkout_payment(
    bookings: BookingStore, user_id: str, booking_id: str, payment_intent_id: str, now: datetime
) -> Booking | None:
    """The Checkout webhook's half of the wait: record the PaymentIntent on the booking (status ``charged``), and
    answer the booking (with the task token to complete), or ``None`` when there is no such booking."""
    ref = StepInput(booking_id, user_id)
    try:
        return _write(bookings, ref, lambda b: _paid(b, payment_intent_id, now))
    except BookingNotFound:
        return None


__all__ = [
    "SAGA_DONE",
    "CapacityFactory",
    "DeadLetters",
    "StepInput",
    "attention",
    "await_payment",
    "charge",
    "confirm",
    "fail",
    "failure_reason",
    "locked_price",
    "notify",
    "record_checkout_payment",
    "refund",
    "refund_late_payment",
    "release",
    "reserve",
    "validate",
]
