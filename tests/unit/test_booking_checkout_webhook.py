"""The Checkout webhook's half of the booking saga's wait (services/billing_webhooks.py): a paid session of a
booking records its PaymentIntent and answers the task token; an expired one fails it with ``PaymentTimeout``;
a replay changes nothing more; and the Step Functions adapter treats a settled token as done."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gpubroker.domain.bookings import BookingStatus
from gpubroker.domain.money import Money
from gpubroker.services import booking_saga as saga
from gpubroker.services.billing_webhooks import WebhookDeps, receive
from tests.fakes_auth import MemoryUsers
from tests.fakes_billing import MemoryBillingStore, StaticSecret, event, sign
from tests.fakes_bookings import MemoryTaskTokens
from tests.fakes_saga import SagaWorld
from tests.unit.test_booking_saga import forward


def _waiting(w: SagaWorld) -> Any:
    b = w.booking()
    forward(w, b, until="reserve")
    w.payments.saved.clear()
    deps = w.deps("await_payment")
    saga.await_payment(saga.StepInput(b.booking_id, b.user_id, task_token="tok-9"), bookings=deps.bookings,
                       payments=deps.payments, users=deps.users, clock=deps.clock)  # fmt: skip
    return b


def _deps(w: SagaWorld, tokens: MemoryTaskTokens) -> WebhookDeps:
    return WebhookDeps(secret=StaticSecret(), store=MemoryBillingStore(), users=MemoryUsers(), bookings=w.bookings,
                       task_tokens=tokens, payments=lambda: w.payments, audit=w.audit)  # fmt: skip


def _session(b: Any, **kw: Any) -> dict[str, Any]:
    return {"id": "cs_1", "object": "checkout.session", "mode": "payment", "customer": "cus_1",
            "metadata": {"booking_id": b.booking_id, "user_id": b.user_id}, **kw}  # fmt: skip


def test_a_paid_session_records_the_payment_and_answers_the_token_once() -> None:
    w, tokens = SagaWorld(), MemoryTaskTokens()
    b = _waiting(w)
    deps = _deps(w, tokens)
    body = event("checkout.session.completed", _session(b, payment_intent="pi_77", payment_status="paid"))
    assert receive(body, sign(body), deps=deps).outcome == "booking_paid"
    got = w.get(b)
    assert got.status == BookingStatus.CHARGED and got.payment_intent_id == "pi_77"
    assert tokens.outcomes == {"tok-9": ("success", {"payment_intent_id": "pi_77"})}
    assert receive(body, sign(body), deps=deps).outcome == "duplicate"
    assert w.get(b).version == got.version


def test_an_expired_session_fails_the_token_with_payment_timeout() -> None:
    w, tokens = SagaWorld(), MemoryTaskTokens()
    b = _waiting(w)
    body = event("checkout.session.expired", _session(b, status="expired"))
    assert receive(body, sign(body), deps=_deps(w, tokens)).outcome == "booking_payment_expired"
    assert tokens.outcomes["tok-9"][0] == "failure"
    assert tokens.outcomes["tok-9"][1]["error"] == "PaymentTimeout"
    assert w.get(b).status == BookingStatus.AWAITING_PAYMENT  # the saga's Fail step marks it


def test_a_session_paid_after_the_booking_failed_is_refunded_at_once() -> None:
    """The payment window ran out (the saga failed the booking), then the user paid: the money goes back."""
    w, tokens = SagaWorld(), MemoryTaskTokens()
    b = _waiting(w)
    deps = w.deps("fail")
    saga.fail(saga.StepInput(b.booking_id, b.user_id, error={"Error": "States.Timeout"}), bookings=deps.bookings,
              audit=deps.audit, clock=deps.clock)  # fmt: skip
    assert w.get(b).reason == "payment_timeout"
    intent = w.payments.charge(customer_id="cus_1", payment_method="pm_checkout", amount=Money(1500, "usd"),
                               idempotency_key="cs_1-payment", metadata={})  # fmt: skip
    body = event("checkout.session.completed", _session(b, payment_intent=intent))
    assert receive(body, sign(body), deps=_deps(w, tokens)).outcome == "booking_paid_late_refunded"
    got = w.get(b)
    assert got.status == BookingStatus.FAILED and got.payment_intent_id == intent and got.refund_id
    assert w.payments.net_charged() == 0
    assert tokens.outcomes == {}
    assert w.actions(b) == ["booking.fail", "booking.refund"]


def test_a_plan_checkout_is_not_a_booking_and_an_unknown_booking_is_recorded() -> None:
    w, tokens = SagaWorld(), MemoryTaskTokens()
    deps = _deps(w, tokens)
    plan = event("checkout.session.completed", {"id": "cs_2", "object": "checkout.session", "mode": "subscription",
                                                "metadata": {"user_id": "u_alice"}})  # fmt: skip
    assert receive(plan, sign(plan), deps=deps).outcome == "received"
    meta = {"booking_id": "bk_none", "user_id": "u_alice"}
    ghost = event("checkout.session.completed", {"id": "cs_3", "payment_intent": "pi_1", "metadata": meta})
    assert receive(ghost, sign(ghost), deps=deps).outcome == "booking_unknown"
    assert tokens.outcomes == {}


class _Client:
    def __init__(self, code: str | None) -> None:
        self.code = code
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _call(self, name: str, kw: dict[str, Any]) -> None:
        from botocore.exceptions import ClientError

        self.calls.append((name, kw))
        if self.code:
            raise ClientError({"Error": {"Code": self.code, "Message": "x"}}, name)

    def send_task_success(self, **kw: Any) -> None:
        self._call("send_task_success", kw)

    def send_task_failure(self, **kw: Any) -> None:
        self._call("send_task_failure", kw)


@pytest.mark.parametrize("code", ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"])
def test_the_adapter_treats_a_settled_token_as_done(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    from gpubroker.adapters import task_tokens

    fake = _Client(code)
    monkeypatch.setattr(task_tokens, "client", lambda service: fake)
    task_tokens.StepFunctionsTaskTokens().succeed("tok", {"payment_intent_id": "pi_1"})
    task_tokens.StepFunctionsTaskTokens().fail("tok", "PaymentTimeout", "x" * 40000)
    assert json.loads(fake.calls[0][1]["output"]) == {"payment_intent_id": "pi_1"}
    assert len(fake.calls[1][1]["cause"]) == task_tokens.MAX_CAUSE


def test_the_adapter_raises_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    from gpubroker.adapters import task_tokens

    monkeypatch.setattr(task_tokens, "client", lambda service: _Client("ThrottlingException"))
    with pytest.raises(ClientError):
        task_tokens.StepFunctionsTaskTokens().succeed("tok", {})
