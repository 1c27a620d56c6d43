"""Booking use cases behind the /bookings routes and ``GET /billing/usage``: create (then start the saga), read,
list, cancel (refund pro rata by started hour, release the instance), and this month's usage.

Create is idempotent by construction: the booking id is derived from (user, ``Idempotency-Key``)
(``booking_id_for``), the record is created with a conditional put, and the saga's execution is named after the
booking. A request retried after a crash between the put and the start finds the record and starts the saga again,
which Step Functions treats as the same execution. (The HTTP replay of the first answer is the handler's, through
Powertools Idempotency.)

Cancel (a ``confirmed`` booking only) runs in two conditional steps so that concurrent cancels refund once:
1. *claim*: ``confirmed -> cancelled`` with the refund amount and ``cancelled_at`` fixed now, and
   ``reason_detail.cancel = "pending"``, conditional on the version read. One caller wins; the others re-read it.
2. *finish* (whoever claimed or found the claim): release the instance (idempotent at the provider), refund the
   stored amount with the key ``booking:{id}:cancel-refund`` (Stripe replays a key's first answer), then record
   ``refund_id`` and ``cancel = "done"``.
A cancel retried after a crash between 1 and 2 finds ``cancel = "pending"`` and finishes; a cancel of a finished
cancellation is a 409 ``booking_not_cancellable``, as for failed and needs-attention bookings.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gpubroker.domain.bookings import (
    MAX_HOURS,
    MIN_CHARGE,
    MIN_HOURS,
    PER_GPU_PROVIDERS,
    Booking,
    BookingStatus,
    booking_id_for,
    is_booking_id,
    locked_price,
    step_key,
)
from gpubroker.domain.errors import (
    AmountTooSmall,
    BookingInProgress,
    BookingNotCancellable,
    BookingNotFound,
    GpuCountNotAllowed,
    OfferNotFound,
    OfferUnavailable,
    ValidationFailed,
)
from gpubroker.domain.money import Money, price_for_hours
from gpubroker.observability import logger
from gpubroker.ports import (
    BookingNotifier,
    BookingStore,
    CapacityProvider,
    Clock,
    OfferRepository,
    Payments,
    SagaStarter,
)

CapacityFor = Callable[[str], CapacityProvider]
"""The capacity provider that released a booking's instance, by the booking's provider (the wiring may route
every provider to one, e.g. the local stack's ``sandbox``)."""

IN_FLIGHT = frozenset({BookingStatus.PENDING, BookingStatus.PRICE_LOCKED, BookingStatus.RESERVED,
                       BookingStatus.AWAITING_PAYMENT, BookingStatus.CHARGED})  # fmt: skip
CANCEL_REFUND = "cancel-refund"
MAX_PAGE = 100  # bookings per page of GET /bookings
_SAVE_ATTEMPTS = 5


@dataclass(frozen=True, kw_only=True)
class BookingDeps:
    store: BookingStore
    clock: Clock


@dataclass(frozen=True, kw_only=True)
class CreateDeps(BookingDeps):
    offers: OfferRepository
    saga: SagaStarter


@dataclass(frozen=True, kw_only=True)
class CancelDeps(BookingDeps):
    payments: Payments
    capacity: CapacityFor
    notifier: BookingNotifier


@dataclass(frozen=True, kw_only=True)
class NewBooking:
    offer_id: str
    hours: int
    gpu_count: int | None = None
    max_price_per_hour: Money | None = None


def _now(clock: Clock) -> datetime:
    now = clock.now()
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _gpu_count(provider: str, offered: int, asked: int | None) -> int:
    if asked is None:
        return offered
    if provider in PER_GPU_PROVIDERS:
        if not 1 <= asked <= offered:
            raise GpuCountNotAllowed(f"this offer rents 1 to {offered} GPUs", details={"allowed": [1, offered]})
        return asked
    if asked != offered:
        raise GpuCountNotAllowed(f"{provider} rents the whole instance: gpu_count must be {offered}",
                                 details={"allowed": [offered, offered]})  # fmt: skip
    return asked


def create_booking(
    user_id: str, idempotency_key: str, request: NewBooking, *, deps: CreateDeps, correlation_id: str | None = None
) -> Booking:
    """The booking of this (user, key), created ``pending`` and its saga started; a retry returns the same one.
    ``correlation_id`` (the creating request's) is kept on the booking and handed to the saga: a retry keeps the
    first request's, so the saga's input is the same bytes."""
    if isinstance(request.hours, bool) or not MIN_HOURS <= request.hours <= MAX_HOURS:
        raise ValidationFailed(f"hours must be {MIN_HOURS}..{MAX_HOURS}", details={"hours": request.hours})
    ceiling = request.max_price_per_hour
    if ceiling is not None and (ceiling.currency != "usd" or ceiling.amount_minor <= 0):
        raise ValidationFailed("max_price_per_hour is a positive amount in usd (offers are priced in usd)")
    booking_id = booking_id_for(user_id, idempotency_key)
    existing = deps.store.get(user_id, booking_id)
    if existing is None:
        offer = deps.offers.get(request.offer_id)
        if offer is None:
            raise OfferNotFound(f"no offer {request.offer_id!r}")
        if not offer.available:
            raise OfferUnavailable(f"offer {request.offer_id!r} is not available now")
        gpus = _gpu_count(offer.provider, offer.gpu_count, request.gpu_count)
        amount = price_for_hours(locked_price(offer, gpus), request.hours)
        minimum = MIN_CHARGE.get(amount.currency, 0)
        if amount.amount_minor < minimum:
            raise AmountTooSmall(f"{amount} is below the smallest charge ({Money(minimum, amount.currency)}): book "
                                 "more hours", details={"amount": amount.to_json(), "minimum": minimum})  # fmt: skip
        now = _now(deps.clock)
        booking = Booking(booking_id=booking_id, user_id=user_id, offer_id=offer.offer_id, provider=offer.provider,
                          gpu_model=offer.gpu_model, gpu_count=gpus, hours=request.hours,
                          status=BookingStatus.PENDING, created_at=now, updated_at=now,
                          max_price_per_hour=ceiling, correlation_id=correlation_id)  # fmt: skip
        if not deps.store.create(booking):  # a concurrent or earlier attempt wrote it first
            existing = deps.store.get(user_id, booking_id)
            if existing is None:  # pragma: no cover - a create that lost is followed by a readable item
                raise RuntimeError("booking create lost a race but the booking is not readable")
        else:
            existing = booking
    deps.saga.start(existing.booking_id, existing.user_id, existing.correlation_id)  # idempotent by execution name
    return existing


def get_booking(user_id: str, booking_id: str, *, store: BookingStore) -> Booking:
    booking = store.get(user_id, booking_id) if is_booking_id(booking_id) else None
    if booking is None:
        raise BookingNotFound(f"no booking {booking_id!r}")
    return booking


def list_bookings(user_id: str, *, store: BookingStore, limit: int = 20,
                  cursor: str | None = None) -> tuple[list[Booking], str | None]:  # fmt: skip
    return store.list(user_id, limit=limit, cursor=cursor)


def started_hours(confirmed_at: datetime | None, now: datetime) -> int:
    """Hours started since the booking was confirmed, rounded up (a second in is one hour used)."""
    if confirmed_at is None:
        return 0
    seconds = (now - confirmed_at).total_seconds()
    return max(0, math.ceil(seconds / 3600))


@dataclass(frozen=True)
class CancelResult:
    booking: Booking
    refund_id: str | None = None  # the refund this call made or completed (audited as booking.refund)
    refunded_now: bool = False


def _claim(booking: Booking, now: datetime) -> Booking:
    total = booking.amount or Money.zero("usd")
    refund = booking.refunded or _refund_amount(booking, total, now)
    return booking.with_status(BookingStatus.CANCELLED, now, cancelled_at=now, refunded=refund,
                               reason_detail={**booking.reason_detail, "cancel": "pending"})  # fmt: skip


def _refund_amount(booking: Booking, total: Money, now: datetime) -> Money:
    from gpubroker.domain.money import prorate

    return prorate(total, started_hours(booking.confirmed_at, now), booking.hours)


def cancel_booking(user_id: str, booking_id: str, *, deps: CancelDeps) -> CancelResult:
    booking = get_booking(user_id, booking_id, store=deps.store)
    for _ in range(_SAVE_ATTEMPTS):
        if booking.status == BookingStatus.CANCELLED and booking.reason_detail.get("cancel") == "pending":
            return _finish(booking, deps)
        if booking.status in IN_FLIGHT:
            raise BookingInProgress("the booking is still being set up: cancel it once it is confirmed",
                                    details={"status": booking.status.value})  # fmt: skip
        if booking.status != BookingStatus.CONFIRMED:
            raise BookingNotCancellable(f"a {booking.status.value} booking cannot be cancelled",
                                        details={"status": booking.status.value})  # fmt: skip
        claimed = _claim(booking, _now(deps.clock))
        if deps.store.save(claimed):
            return _finish(claimed, deps)
        booking = get_booking(user_id, booking_id, store=deps.store)  # lost a race: see what the winner did
    raise BookingInProgress("the booking is changing: retry")  # pragma: no cover - 5 lost races in a row


def _finish(booking: Booking, deps: CancelDeps) -> CancelResult:
    if booking.instance_id:
        deps.capacity(booking.provider).release(booking.instance_id)
    refund_id = booking.refund_id
    refunded_now = False
    if refund_id is None and booking.payment_intent_id and booking.refunded and booking.refunded.amount_minor > 0:
        refund_id = deps.payments.refund(booking.payment_intent_id, booking.refunded,
                                         idempotency_key=step_key(booking.booking_id, CANCEL_REFUND))  # fmt: skip
        refunded_now = True
    done = booking
    for _ in range(_SAVE_ATTEMPTS):
        if done.reason_detail.get("cancel") != "pending":
            break
        nxt = done.with_status(BookingStatus.CANCELLED, _now(deps.clock), refund_id=refund_id,
                               reason_detail={**done.reason_detail, "cancel": "done"})  # fmt: skip
        if deps.store.save(nxt):
            done = nxt
            break
        done = get_booking(done.user_id, done.booking_id, store=deps.store)
    try:
        deps.notifier.notify(done)
    except Exception:  # best effort: the cancellation stands; the client sees it in its answer
        logger.warning("booking notify failed", extra={"booking_id": done.booking_id}, exc_info=True)
    return CancelResult(done, refund_id=refund_id, refunded_now=refunded_now)


# -- usage ------------------------------------------------------------------------------------------------------
USAGE_STATUSES = frozenset({BookingStatus.CONFIRMED, BookingStatus.CANCELLED})


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


@dataclass(frozen=True)
class Usage:
    period_start: datetime
    period_end: datetime
    bookings: list[Booking] = field(default_factory=list)

    @staticmethod
    def gpu_hours(booking: Booking) -> int:
        return booking.hours * booking.gpu_count

    def totals(self) -> dict[str, tuple[int, Money, Money]]:
        """currency -> (GPU-hours, amount, refunded)."""
        out: dict[str, tuple[int, Money, Money]] = {}
        for b in self.bookings:
            if b.amount is None:
                continue
            cur = b.amount.currency
            hours, amount, refunded = out.get(cur, (0, Money.zero(cur), Money.zero(cur)))
            out[cur] = (hours + self.gpu_hours(b), amount + b.amount, refunded + (b.refunded or Money.zero(cur)))
        return out


def usage(user_id: str, *, store: BookingStore, clock: Clock, page: int = 100) -> Usage:
    """The caller's bookings created this calendar month (UTC) that were confirmed (or confirmed then cancelled),
    newest first: what was charged and refunded. Failed and in-flight ones charged nothing and are left out."""
    start = month_start(_now(clock))
    mine: list[Booking] = []
    cursor: str | None = None
    while True:
        items, cursor = store.list(user_id, limit=page, cursor=cursor)
        mine += [b for b in items if b.created_at >= start and b.status in USAGE_STATUSES]
        if cursor is None or not items or items[-1].created_at < start:
            break
    return Usage(period_start=start, period_end=next_month(start), bookings=mine)
