"""services/bookings.py on the in-memory fakes: every bad input of a create, the derived id and the retried
create, reads scoped to the owner, cancel's proration by started hour, its refusals, one refund under concurrent
cancels, a cancel finished after a crash, and this month's usage."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gpubroker.domain.bookings import Booking, BookingStatus, booking_id_for, step_key
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
from gpubroker.domain.money import Money
from gpubroker.services.bookings import (
    NewBooking,
    cancel_booking,
    create_booking,
    get_booking,
    list_bookings,
    started_hours,
    usage,
)
from tests.fakes_booking_routes import BookingWorld, offer

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def new(**kw: object) -> NewBooking:
    return NewBooking(**{"offer_id": "runpod-a100-1", "hours": 10, **kw})  # type: ignore[arg-type]


def test_create_writes_a_pending_booking_under_the_derived_id_and_starts_its_saga() -> None:
    w = BookingWorld()
    b = create_booking("u1", "key-1", new(gpu_count=2), deps=w.create_deps())
    assert b.booking_id == booking_id_for("u1", "key-1")
    assert (b.status, b.gpu_count, b.hours, b.provider, b.version) == (BookingStatus.PENDING, 2, 10, "runpod", 0)
    assert w.store.get("u1", b.booking_id) == b
    assert list(w.saga.started) == [b.booking_id]


def test_a_retried_create_returns_the_stored_booking_and_starts_the_saga_again_idempotently() -> None:
    w = BookingWorld()
    first = create_booking("u1", "k", new(), deps=w.create_deps())
    w.clock.advance(30)
    again = create_booking("u1", "k", new(), deps=w.create_deps())
    assert again == first and len(w.store.items) == 1 and len(w.saga.started) == 1


def test_the_same_key_of_two_users_is_two_bookings() -> None:
    w = BookingWorld()
    a = create_booking("u1", "k", new(), deps=w.create_deps())
    b = create_booking("u2", "k", new(), deps=w.create_deps())
    assert a.booking_id != b.booking_id and len(w.store.items) == 2


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (new(offer_id="nope"), OfferNotFound),
        (new(offer_id="vast-gone"), OfferUnavailable),
        (new(hours=0), ValidationFailed),
        (new(hours=721), ValidationFailed),
        (new(hours=-5), ValidationFailed),
        (new(gpu_count=5), GpuCountNotAllowed),  # runpod: per GPU, at most the offer's 4
        (new(gpu_count=0), GpuCountNotAllowed),
        (new(offer_id="lambda-h100-8", gpu_count=4), GpuCountNotAllowed),  # lambda: the whole instance only
        (new(max_price_per_hour=Money(100, "eur")), ValidationFailed),
        (new(max_price_per_hour=Money(0, "usd")), ValidationFailed),
    ],
)
def test_bad_requests_are_refused_and_write_nothing(request_: NewBooking, error: type[Exception]) -> None:
    w = BookingWorld()
    with pytest.raises(error):
        create_booking("u1", "k", request_, deps=w.create_deps())
    assert not w.store.items and not w.saga.started


def test_gpu_count_defaults_to_the_offer_and_a_whole_instance_may_be_named() -> None:
    w = BookingWorld()
    assert create_booking("u1", "a", new(), deps=w.create_deps()).gpu_count == 4
    assert create_booking("u1", "b", new(offer_id="lambda-h100-8", gpu_count=8), deps=w.create_deps()).gpu_count == 8
    ceiling = Money(700, "usd")
    assert (
        create_booking("u1", "c", new(max_price_per_hour=ceiling), deps=w.create_deps()).max_price_per_hour == ceiling
    )
    for hours in (1, 720):
        assert create_booking("u1", f"h{hours}", new(hours=hours), deps=w.create_deps()).hours == hours


def test_another_users_booking_and_a_malformed_id_are_not_found() -> None:
    w = BookingWorld()
    b = create_booking("u1", "k", new(), deps=w.create_deps())
    assert get_booking("u1", b.booking_id, store=w.store) == b
    for user, booking_id in (("u2", b.booking_id), ("u1", "bk_nope"), ("u1", "../etc"), ("u1", "")):
        with pytest.raises(BookingNotFound):
            get_booking(user, booking_id, store=w.store)


def test_list_is_the_owners_only_newest_first() -> None:
    w = BookingWorld()
    for i in range(5):
        create_booking("u1", f"k{i}", new(), deps=w.create_deps())
        create_booking("u2", f"k{i}", new(), deps=w.create_deps())
        w.clock.advance(60)
    page, cursor = list_bookings("u1", store=w.store, limit=3)
    rest, end = list_bookings("u1", store=w.store, limit=3, cursor=cursor)
    assert end is None and len(page) == 3 and len(rest) == 2
    assert [b.booking_id for b in page + rest] == [booking_id_for("u1", f"k{i}") for i in reversed(range(5))]


def confirmed(w: BookingWorld, *, hours: int = 10, amount: int = 10_000, at: datetime = T0, user: str = "u1",
              key: str = "k", instance: str | None = "inst-1") -> Booking:  # fmt: skip
    b = create_booking(user, key, new(hours=hours), deps=w.create_deps())
    pi = w.payments.charge(customer_id="cus_1", payment_method="pm_1", amount=Money(amount, "usd"),
                           idempotency_key=step_key(b.booking_id, "charge"), metadata={})  # fmt: skip
    done = b.with_status(BookingStatus.CONFIRMED, at, confirmed_at=at, amount=Money(amount, "usd"),
                         price_per_hour=Money(amount // hours, "usd"), payment_intent_id=pi,
                         instance_id=instance)  # fmt: skip
    assert w.store.save(done)
    return done


@pytest.mark.parametrize(
    ("elapsed", "used", "refund"),
    [
        (timedelta(0), 0, 10_000),  # cancelled at once: all refunded
        (timedelta(seconds=1), 1, 9_000),  # a second in: one started hour
        (timedelta(hours=1), 1, 9_000),
        (timedelta(hours=1, seconds=1), 2, 8_000),
        (timedelta(hours=9, minutes=59), 10, 0),
        (timedelta(hours=30), 30, 0),  # past the end: nothing back (prorate caps at the booking)
    ],
)
def test_cancel_refunds_pro_rata_by_started_hour_and_releases(elapsed: timedelta, used: int, refund: int) -> None:
    w = BookingWorld()
    b = confirmed(w)
    w.clock.t = T0 + elapsed
    assert started_hours(T0, w.clock.t) == used
    result = cancel_booking("u1", b.booking_id, deps=w.cancel_deps())
    out = result.booking
    assert (out.status, out.refunded, out.cancelled_at) == (BookingStatus.CANCELLED, Money(refund, "usd"), w.clock.t)
    assert out.reason_detail["cancel"] == "done"
    assert w.released == [("runpod", "inst-1")]
    assert w.payments.net_charged() == 10_000 - refund
    assert result.refunded_now == (refund > 0) and (out.refund_id is not None) == (refund > 0)
    assert w.notifier.sent[-1] == ("u1", b.booking_id, "cancelled")
    assert w.store.get("u1", b.booking_id) == out


def test_an_odd_amount_is_split_exactly() -> None:
    w = BookingWorld()
    b = confirmed(w, hours=3, amount=1000)
    w.clock.t = T0 + timedelta(minutes=10)
    out = cancel_booking("u1", b.booking_id, deps=w.cancel_deps()).booking
    assert out.refunded == Money(667, "usd")  # 1000 * 2/3 rounded half up; 333 kept


@pytest.mark.parametrize("status", [BookingStatus.FAILED, BookingStatus.CANCELLED, BookingStatus.NEEDS_ATTENTION])
def test_a_terminal_booking_is_not_cancellable(status: BookingStatus) -> None:
    w = BookingWorld()
    b = create_booking("u1", "k", new(), deps=w.create_deps())
    assert w.store.save(b.with_status(status, T0))
    with pytest.raises(BookingNotCancellable):
        cancel_booking("u1", b.booking_id, deps=w.cancel_deps())
    assert not w.payments.refunds and not w.released


@pytest.mark.parametrize(
    "status",
    [BookingStatus.PENDING, BookingStatus.PRICE_LOCKED, BookingStatus.RESERVED, BookingStatus.AWAITING_PAYMENT,
     BookingStatus.CHARGED],
)  # fmt: skip
def test_a_booking_in_flight_is_a_conflict_in_progress(status: BookingStatus) -> None:
    w = BookingWorld()
    b = create_booking("u1", "k", new(), deps=w.create_deps())
    if status != BookingStatus.PENDING:
        assert w.store.save(b.with_status(status, T0))
    with pytest.raises(BookingInProgress) as info:
        cancel_booking("u1", b.booking_id, deps=w.cancel_deps())
    assert info.value.code == "booking_in_progress"


def test_a_second_cancel_is_a_conflict_and_refunds_nothing_more() -> None:
    w = BookingWorld()
    b = confirmed(w)
    cancel_booking("u1", b.booking_id, deps=w.cancel_deps())
    with pytest.raises(BookingNotCancellable):
        cancel_booking("u1", b.booking_id, deps=w.cancel_deps())
    assert len(w.payments.refunds) == 1


def test_another_users_cancel_is_not_found() -> None:
    w = BookingWorld()
    b = confirmed(w)
    with pytest.raises(BookingNotFound):
        cancel_booking("u2", b.booking_id, deps=w.cancel_deps())
    assert w.store.get("u1", b.booking_id) == b


def test_concurrent_cancels_refund_once() -> None:
    w = BookingWorld()
    b = confirmed(w)
    w.clock.t = T0 + timedelta(minutes=90)
    barrier = threading.Barrier(16)
    outcomes: list[str] = []

    def one() -> None:
        barrier.wait()
        try:
            cancel_booking("u1", b.booking_id, deps=w.cancel_deps())
            outcomes.append("ok")
        except BookingNotCancellable:
            outcomes.append("409")

    threads = [threading.Thread(target=one) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(w.payments.refunds) == 1 and w.payments.net_charged() == 2_000
    assert outcomes.count("ok") >= 1 and len(outcomes) == 16
    assert w.store.get("u1", b.booking_id).refunded == Money(8_000, "usd")  # type: ignore[union-attr]


def test_a_cancel_that_crashed_after_its_claim_is_finished_by_the_retry_with_the_claimed_amount() -> None:
    w = BookingWorld()
    b = confirmed(w)
    w.clock.t = T0 + timedelta(minutes=30)
    claimed = b.with_status(BookingStatus.CANCELLED, w.clock.t, cancelled_at=w.clock.t, refunded=Money(9_000, "usd"),
                            reason_detail={"cancel": "pending"})  # fmt: skip
    assert w.store.save(claimed)  # what the first attempt wrote before it died
    w.clock.t = T0 + timedelta(hours=5)  # the retry comes later: the amount is the claim's, not a new one
    result = cancel_booking("u1", b.booking_id, deps=w.cancel_deps())
    assert result.refunded_now and result.booking.refund_id and w.payments.net_charged() == 1_000
    assert result.booking.reason_detail["cancel"] == "done" and w.released == [("runpod", "inst-1")]


def test_a_booking_without_charge_or_instance_cancels_with_nothing_to_undo() -> None:
    w = BookingWorld()
    b = create_booking("u1", "k", new(), deps=w.create_deps())
    assert w.store.save(b.with_status(BookingStatus.CONFIRMED, T0, confirmed_at=T0))
    out = cancel_booking("u1", b.booking_id, deps=w.cancel_deps())
    assert out.booking.status == BookingStatus.CANCELLED and not out.refunded_now and not w.released


def test_usage_is_this_months_charged_bookings_with_totals_per_currency() -> None:
    w = BookingWorld()
    w.clock.t = datetime(2026, 10, 30, tzinfo=UTC)
    confirmed(w, key="october", amount=5_000)  # last month
    w.clock.t = datetime(2026, 11, 2, tzinfo=UTC)
    a = confirmed(w, key="a", amount=10_000, at=w.clock.t)
    b = confirmed(w, key="b", amount=2_000, hours=2, at=w.clock.t)
    create_booking("u1", "pending", new(), deps=w.create_deps())  # charged nothing: not in usage
    w.clock.t = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)
    cancel_booking("u1", b.booking_id, deps=w.cancel_deps())  # 2 of 2 hours started: nothing back
    confirmed(w, user="u2", key="x")
    w.clock.t = datetime(2026, 11, 20, tzinfo=UTC)
    report = usage("u1", store=w.store, clock=w.clock, page=2)
    assert (report.period_start, report.period_end) == (datetime(2026, 11, 1, tzinfo=UTC),
                                                        datetime(2026, 12, 1, tzinfo=UTC))  # fmt: skip
    assert {x.booking_id for x in report.bookings} == {a.booking_id, b.booking_id}
    hours, amount, refunded = report.totals()["usd"]
    assert (hours, amount, refunded) == (4 * 10 + 4 * 2, Money(12_000, "usd"), Money(0, "usd"))


def test_december_usage_ends_on_the_first_of_january() -> None:
    w = BookingWorld()
    w.clock.t = datetime(2026, 12, 31, 23, tzinfo=UTC)
    report = usage("u1", store=w.store, clock=w.clock)
    assert report.period_end == datetime(2027, 1, 1, tzinfo=UTC) and report.bookings == []
    assert replace(report, bookings=[]).totals() == {}


def test_a_saga_that_did_not_start_is_started_by_the_retry_of_the_same_request() -> None:
    from gpubroker.domain.errors import SagaUnavailable

    w = BookingWorld()

    class Down:
        def start(self, booking_id: str, user_id: str, correlation_id: str | None = None) -> str:
            raise SagaUnavailable("down")

    with pytest.raises(SagaUnavailable):
        create_booking("u1", "k", new(), deps=replace(w.create_deps(), saga=Down()))
    assert len(w.store.items) == 1 and not w.saga.started  # recorded, not started
    b = create_booking("u1", "k", new(), deps=w.create_deps())
    assert list(w.saga.started) == [b.booking_id] and len(w.store.items) == 1


def test_a_booking_below_stripes_smallest_charge_is_refused_before_anything_is_written() -> None:
    w = BookingWorld()
    cheap = offer("vast-cheap", provider="vast", gpu_count=1, price=0.14)
    w.offers.items[cheap.offer_id] = cheap
    with pytest.raises(AmountTooSmall) as refused:
        create_booking("u1", "k", new(offer_id="vast-cheap", hours=3), deps=w.create_deps())  # 42 cents
    assert refused.value.details == {"amount": {"amount": 42, "currency": "usd"}, "minimum": 50}
    assert not w.store.items and not w.saga.started
    assert create_booking("u1", "k", new(offer_id="vast-cheap", hours=4), deps=w.create_deps()).hours == 4  # 56 cents
