"""The booking saga's steps (services/booking_saga.py) over the in-memory world: each step, its retry after a
partial success (the external call made, the step's answer lost), and "nothing to undo"."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from gpubroker.domain.bookings import BookingStatus, FailureReason
from gpubroker.domain.errors import (
    BookingClosed,
    BookingNotFound,
    InvalidRequest,
    NoCapacity,
    OfferNotFound,
    OfferUnavailable,
    PaymentDeclined,
    PaymentsUnavailable,
    PriceChanged,
    ProviderUnavailable,
    ProvisioningError,
    QuotaExceeded,
)
from gpubroker.domain.money import Money
from gpubroker.services import booking_saga as saga
from gpubroker.services.booking_saga import StepInput, failure_reason
from tests.fakes_saga import SagaWorld, an_offer


@pytest.fixture
def w() -> SagaWorld:
    return SagaWorld()


def ref(b: Any, **kw: Any) -> StepInput:
    return StepInput(b.booking_id, b.user_id, **kw)


def run(w: SagaWorld, step: str, b: Any, **kw: Any) -> dict[str, Any]:
    deps = w.deps(step)
    ports = {name: getattr(deps, name) for name in deps.__dataclass_fields__}
    out: dict[str, Any] = getattr(saga, step)(ref(b, **kw), **ports)
    return out


def forward(w: SagaWorld, b: Any, *, until: str) -> None:
    for step in ("validate", "reserve", "charge", "confirm"):
        run(w, step, b)
        if step == until:
            return


# --- validate ------------------------------------------------------------------------------------------------


def test_validate_locks_the_per_gpu_price_times_gpus_and_the_amount(w: SagaWorld) -> None:
    b = w.booking(hours=3, gpu_count=2)
    out = run(w, "validate", b)
    got = w.get(b)
    assert got.status == BookingStatus.PRICE_LOCKED
    assert got.price_per_hour == Money(500, "usd")  # 2.50 per GPU-hour x 2 GPUs
    assert got.amount == Money(1500, "usd")
    assert out == {"price_per_hour": {"amount": 500, "currency": "usd"}, "amount": {"amount": 1500, "currency": "usd"}}
    assert run(w, "validate", b) == out  # a retry after success: same answer, no new write
    assert w.get(b).version == got.version


def test_validate_whole_instance_provider_uses_the_instance_price(w: SagaWorld) -> None:
    offer = an_offer("lambda-h100-us", provider="lambda", price=2.0, gpus=8)
    assert saga.locked_price(offer, 8) == Money(1600, "usd")
    assert saga.locked_price(an_offer(price=2.0), 3) == Money(600, "usd")


def test_validate_price_changed_records_the_new_price_and_fails(w: SagaWorld) -> None:
    b = w.booking(max_price=Money(400, "usd"))
    with pytest.raises(PriceChanged):
        run(w, "validate", b)
    got = w.get(b)
    assert got.status == BookingStatus.PENDING
    assert got.reason_detail["price_per_hour"] == {"amount": 500, "currency": "usd"}
    run(w, "fail", b, error={"Error": "PriceChanged", "Cause": "..."})
    failed = w.get(b)
    assert failed.status == BookingStatus.FAILED
    assert failed.reason == "price_changed"
    assert failed.reason_detail["price_per_hour"] == {"amount": 500, "currency": "usd"}


def test_validate_under_the_cap_passes(w: SagaWorld) -> None:
    b = w.booking(max_price=Money(500, "usd"))
    run(w, "validate", b)
    assert w.get(b).status == BookingStatus.PRICE_LOCKED


def test_validate_unknown_and_unavailable_offers(w: SagaWorld) -> None:
    b = w.booking(offer_id="nope")
    with pytest.raises(OfferNotFound):
        run(w, "validate", b)
    w.offers.put_many([an_offer("sandbox-off", available=False)])
    b2 = w.booking("k2", offer_id="sandbox-off")
    with pytest.raises(OfferUnavailable):
        run(w, "validate", b2)


def test_a_step_on_a_missing_booking_or_bad_input(w: SagaWorld) -> None:
    with pytest.raises(BookingNotFound):
        saga.validate(StepInput("bk_x", "u_alice"), bookings=w.bookings, offers=w.offers, clock=w.clock)
    with pytest.raises(InvalidRequest):
        StepInput.of({"booking_id": 3})


def test_a_cancelled_booking_stops_the_saga(w: SagaWorld) -> None:
    b = w.booking()
    current = w.get(b)
    assert w.bookings.save(current.with_status(BookingStatus.CANCELLED, w.clock.now()))
    with pytest.raises(BookingClosed):
        run(w, "validate", b)


# --- reserve -------------------------------------------------------------------------------------------------


def test_reserve_records_the_instance_and_a_retry_finds_it(w: SagaWorld) -> None:
    b = w.booking()
    forward(w, b, until="validate")
    out = run(w, "reserve", b)
    got = w.get(b)
    assert got.status == BookingStatus.RESERVED and got.instance_id == out["instance_id"]
    assert run(w, "reserve", b) == out
    assert w.capacity.calls["reserve"] == 1  # the retry read the booking, not the provider
    assert w.capacity.live() == [out["instance_id"]]


def test_reserve_lost_answer_reuses_the_providers_idempotency_key(w: SagaWorld) -> None:
    """The provider created the instance, then the write was lost (a Lambda timeout): the retry asks again with
    the same key and gets the same instance."""
    b = w.booking()
    forward(w, b, until="validate")
    first = w.capacity.reserve(an_offer(), gpu_count=2, idempotency_key=f"booking:{b.booking_id}:reserve")
    out = run(w, "reserve", b)
    assert out["instance_id"] == first.instance_id
    assert len(w.capacity.live()) == 1


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (ProviderUnavailable("503", provider="sandbox"), ProviderUnavailable),
        (NoCapacity("full", provider="sandbox"), NoCapacity),
        (QuotaExceeded("quota", provider="sandbox"), QuotaExceeded),
    ],
)
def test_reserve_errors_keep_their_class_name(w: SagaWorld, error: Exception, raised: type[Exception]) -> None:
    b = w.booking()
    forward(w, b, until="validate")
    w.capacity.fail_next["reserve"] = [error]
    with pytest.raises(raised) as caught:
        run(w, "reserve", b)
    assert type(caught.value).__name__ == raised.__name__
    assert w.get(b).instance_id is None


def test_a_transient_provisioning_error_of_another_class_is_raised_as_provider_unavailable(w: SagaWorld) -> None:
    class Flaky(ProvisioningError):
        transient = True

    b = w.booking()
    forward(w, b, until="validate")
    w.capacity.fail_next["reserve"] = [Flaky("reset", provider="sandbox")]
    with pytest.raises(ProviderUnavailable):
        run(w, "reserve", b)


def test_reserve_after_a_cancel_records_the_instance_so_release_finds_it(w: SagaWorld) -> None:
    b = w.booking()
    forward(w, b, until="validate")
    real = w.capacity.reserve

    def cancel_meanwhile(offer: Any, **kw: Any) -> Any:
        made = real(offer, **kw)
        cur = w.get(b)
        assert w.bookings.save(cur.with_status(BookingStatus.CANCELLED, w.clock.now()))
        return made

    w.capacity.reserve = cancel_meanwhile  # type: ignore[method-assign]
    with pytest.raises(BookingClosed):
        run(w, "reserve", b)
    got = w.get(b)
    assert got.status == BookingStatus.CANCELLED and got.instance_id
    run(w, "release", b)
    assert w.capacity.live() == []


# --- charge --------------------------------------------------------------------------------------------------


def test_charge_records_the_payment_intent_and_a_retry_charges_once(w: SagaWorld) -> None:
    b = w.booking()
    forward(w, b, until="reserve")
    out = run(w, "charge", b)
    assert out == {"needs_checkout": False, "payment_intent_id": "pi_1"}
    assert w.get(b).status == BookingStatus.CHARGED
    assert run(w, "charge", b) == out
    assert w.payments.calls["charge"] == 1
    assert len(w.payments.intents) == 1


def test_charge_timed_out_after_stripe_charged_is_charged_once(w: SagaWorld) -> None:
    """The PaymentIntent was created, then the step died before recording it: the retry's Stripe call carries the
    same idempotency key (booking:{id}:charge) and returns the same PaymentIntent."""
    b = w.booking()
    forward(w, b, until="reserve")
    w.payments.fail_next["charge"] = [("after", PaymentsUnavailable("read timeout"))]
    with pytest.raises(PaymentsUnavailable):
        run(w, "charge", b)
    assert w.get(b).payment_intent_id is None
    out = run(w, "charge", b)
    assert len(w.payments.intents) == 1
    assert out["payment_intent_id"] == "pi_1" and w.get(b).payment_intent_id == "pi_1"
    assert w.payments.net_charged() == 1500


def test_charge_declined(w: SagaWorld) -> None:
    b = w.booking()
    forward(w, b, until="reserve")
    w.payments.decline.add("pm_card_visa")
    with pytest.raises(PaymentDeclined):
        run(w, "charge", b)
    assert w.get(b).payment_intent_id is None


def test_charge_without_a_saved_card_needs_checkout_and_await_stores_the_token(w: SagaWorld) -> None:
    b = w.booking()
    forward(w, b, until="reserve")
    w.payments.saved.clear()
    assert run(w, "charge", b) == {"needs_checkout": True}
    out = run(w, "await_payment", b, task_token="tok-1")
    got = w.get(b)
    assert got.status == BookingStatus.AWAITING_PAYMENT
    assert got.task_token == "tok-1" and got.checkout_url == out["checkout_url"]
    run(w, "await_payment", b, task_token="tok-2")  # a retried wait brings a new token: stored, same session
    assert w.get(b).task_token == "tok-2" and len(w.payments.sessions) == 1
    paid = saga.record_checkout_payment(w.bookings, b.user_id, b.booking_id, "pi_checkout", w.clock.now())
    assert paid is not None and paid.status == BookingStatus.CHARGED and paid.task_token == "tok-2"
    run(w, "confirm", b)
    assert w.get(b).status == BookingStatus.CONFIRMED


def test_await_payment_needs_a_token(w: SagaWorld) -> None:
    b = w.booking()
    with pytest.raises(InvalidRequest):
        run(w, "await_payment", b)


# --- confirm and notify --------------------------------------------------------------------------------------


def test_confirm_stores_the_connection_meters_once_and_audits(w: SagaWorld) -> None:
    b = w.booking(hours=3, gpu_count=2)
    forward(w, b, until="confirm")
    got = w.get(b)
    assert got.status == BookingStatus.CONFIRMED and got.confirmed_at is not None
    assert got.connection == {"host": "10.0.0.7", "port": 22, "user": "ubuntu"}
    assert "10.0.0.7" not in repr(got)
    assert w.payments.meter_events == {f"booking:{b.booking_id}:usage": ("cus_1", 6)}
    run(w, "confirm", b)
    assert w.actions(b) == ["booking.confirm"]


def test_confirm_without_a_payment_refuses(w: SagaWorld) -> None:
    b = w.booking()
    forward(w, b, until="reserve")
    with pytest.raises(PaymentDeclined):
        run(w, "confirm", b)


def test_notify_pushes_the_status(w: SagaWorld) -> None:
    b = w.booking()
    forward(w, b, until="confirm")
    assert run(w, "notify", b) == {"reached": 1}
    assert w.notifier.sent == [(b.user_id, b.booking_id, "confirmed")]


# --- compensations -------------------------------------------------------------------------------------------


def test_refund_twice_refunds_once(w: SagaWorld) -> None:
    b = w.booking()
    forward(w, b, until="charge")
    first = run(w, "refund", b, error={"Error": "X"})
    assert first["refund_id"] == "re_1"
    assert run(w, "refund", b, error={"Error": "X"}) == first
    assert len(w.payments.refunds) == 1 and w.payments.net_charged() == 0
    got = w.get(b)
    assert got.refund_id == "re_1" and got.refunded == Money(1500, "usd")
    assert w.actions(b) == ["booking.refund"]


def test_refund_lost_answer_reuses_the_key(w: SagaWorld) -> None:
    b = w.booking()
    forward(w, b, until="charge")
    w.payments.fail_next["refund"] = [("after", PaymentsUnavailable("timeout"))]
    with pytest.raises(PaymentsUnavailable):
        run(w, "refund", b)
    run(w, "refund", b)
    assert len(w.payments.refunds) == 1 and w.payments.net_charged() == 0


def test_compensations_with_nothing_to_undo_succeed(w: SagaWorld) -> None:
    b = w.booking()
    assert run(w, "refund", b) == {"refund_id": None}
    assert run(w, "release", b) == {"released": None}
    assert w.payments.calls.get("refund") is None and w.capacity.calls.get("release") is None


def test_release_of_a_gone_instance_is_success(w: SagaWorld) -> None:
    b = w.booking()
    forward(w, b, until="reserve")
    iid = w.get(b).instance_id
    assert iid
    w.capacity.instances.pop(iid)  # the provider lost it
    assert run(w, "release", b) == {"released": iid}
    run(w, "release", b)
    assert w.capacity.live() == []


def test_release_transient_failure_is_retryable(w: SagaWorld) -> None:
    b = w.booking()
    forward(w, b, until="reserve")
    w.capacity.fail_next["release"] = [ProviderUnavailable("503", provider="sandbox")]
    with pytest.raises(ProviderUnavailable):
        run(w, "release", b)
    run(w, "release", b)
    assert w.capacity.live() == []


def test_fail_marks_failed_once_with_the_reason(w: SagaWorld) -> None:
    b = w.booking()
    forward(w, b, until="reserve")
    out = run(w, "fail", b, error={"Error": "NoCapacity", "Cause": "{}"})
    assert out == {"status": "failed", "reason": "no_capacity"}
    run(w, "fail", b, error={"Error": "NoCapacity"})
    assert w.actions(b) == ["booking.fail"]
    assert w.get(b).reason_detail["error"] == "NoCapacity"


@pytest.mark.parametrize(
    ("error", "status", "reason"),
    [
        ("PaymentDeclined", BookingStatus.RESERVED, FailureReason.PAYMENT_FAILED),
        ("PaymentTimeout", BookingStatus.AWAITING_PAYMENT, FailureReason.PAYMENT_TIMEOUT),
        ("States.Timeout", BookingStatus.AWAITING_PAYMENT, FailureReason.PAYMENT_TIMEOUT),
        ("RuntimeError", BookingStatus.CHARGED, FailureReason.CONFIRM_FAILED),
        ("Lambda.Unknown", BookingStatus.PENDING, FailureReason.STEP_FAILED),
        ("", BookingStatus.PENDING, FailureReason.STEP_FAILED),
    ],
)
def test_failure_reasons(error: str, status: BookingStatus, reason: FailureReason) -> None:
    assert failure_reason(error, status) == reason


def test_attention_sends_one_dead_letter_and_marks_the_booking(w: SagaWorld) -> None:
    b = w.booking()
    forward(w, b, until="charge")
    err = {"Error": "ProviderUnavailable", "Cause": "503 " * 1000}
    assert run(w, "attention", b, error=err) == {"status": "needs_attention"}
    run(w, "attention", b, error=err)
    got = w.get(b)
    assert got.status == BookingStatus.NEEDS_ATTENTION and got.reason == "compensation_failed"
    assert len(w.dlq.messages) == 1
    message = w.dlq.messages[0]
    assert message["payment_intent_id"] == "pi_1" and message["instance_id"] == got.instance_id
    assert len(message["cause"]) <= 2000
    assert w.actions(b) == ["booking.attention"]


def test_status_writes_retry_a_lost_race(w: SagaWorld) -> None:
    """Another writer bumps the version between the step's read and its write: the step re-reads and wins."""
    b = w.booking()
    real_save = w.bookings.save
    raced = {"done": False}

    def save(booking: Any) -> bool:
        if not raced["done"]:
            raced["done"] = True
            cur = w.get(b)
            real_save(replace(cur, version=cur.version + 1))  # someone else's write
            return real_save(booking)  # ours is now stale: refused
        return real_save(booking)

    w.bookings.save = save  # type: ignore[method-assign]
    run(w, "validate", b)
    assert w.get(b).status == BookingStatus.PRICE_LOCKED


def test_audit_append_failure_goes_to_the_spool(w: SagaWorld) -> None:
    b = w.booking()
    forward(w, b, until="reserve")

    def broken(**_: Any) -> Any:
        raise RuntimeError("dynamodb down")

    w.audit_log.append = broken  # type: ignore[method-assign,assignment]
    run(w, "fail", b, error={"Error": "NoCapacity"})
    spooled = list(w.audit.spool.messages.values())  # type: ignore[attr-defined]
    assert [m["action"] for m in spooled] == ["booking.fail"]
    assert spooled[0]["resource"] == f"booking/{b.booking_id}" and spooled[0]["actor"] == "user:u_alice"
