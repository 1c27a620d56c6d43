"""StripePayments (layers/core/gpubroker/adapters/payments.py) with the official SDK against the local Stripe server
over HTTP: charges on a saved card, one PaymentIntent per key, refunds, declines, faults, Checkout URLs, metering;
and the user -> customer link in the auth table (moto)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import stripe

from gpubroker.adapters.payments import StripePayments
from gpubroker.domain.errors import PaymentDeclined, PaymentsUnavailable, Unavailable
from gpubroker.domain.money import Money
from infra.stripe_setup import client as setup_client
from infra.stripe_setup import setup
from tests.integration.stripe_local import API_KEY, clear_faults, fault, stripe_server

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("stripe")]


class MemoryLinks:
    def __init__(self) -> None:
        self.users: dict[str, str] = {}
        self.customers: dict[str, tuple[str, str]] = {}
        self.lock = threading.Lock()

    def link_user(self, user_id: str, customer_id: str, *, email: str) -> str:
        with self.lock:
            self.users.setdefault(user_id, customer_id)
            self.customers[customer_id] = (user_id, email)
            return self.users[user_id]

    def customer_of(self, user_id: str) -> str | None:
        return self.users.get(user_id)

    def customer(self, customer_id: str) -> tuple[str, str] | None:
        return self.customers.get(customer_id)


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with stripe_server() as url:
        yield url


@pytest.fixture
def payments(base: str) -> StripePayments:
    clear_faults(base)
    return StripePayments(API_KEY, links=MemoryLinks(), api_base=base, return_url="http://app.test",
                          max_network_retries=0, timeout_s=2)  # fmt: skip


@pytest.fixture
def v1(base: str) -> Any:
    return stripe.StripeClient(API_KEY, base_addresses={"api": base}).v1


def _saved_card(v1: Any, customer: str, card: str = "pm_card_visa") -> str:
    pm = v1.payment_methods.attach(v1.payment_methods.retrieve(card).id, params={"customer": customer})
    v1.customers.update(customer, params={"invoice_settings": {"default_payment_method": pm.id}})
    return str(pm.id)


def test_a_customer_is_created_once_per_user_and_linked(payments: StripePayments, base: str, v1: Any) -> None:
    first = payments.customer_for("u-1", "u1@example.com")
    assert payments.customer_for("u-1", "u1@example.com") == first
    # a second container without the link (a race) gets the same customer from Stripe's idempotency key
    other = StripePayments(API_KEY, links=MemoryLinks(), api_base=base)
    assert other.customer_for("u-1", "u1@example.com") == first
    customer = v1.customers.retrieve(first)
    assert (customer.email, customer.metadata.user_id) == ("u1@example.com", "u-1")
    assert payments.saved_payment_method(first) is None


def test_a_charge_on_the_saved_card_happens_once_per_key(payments: StripePayments, v1: Any) -> None:
    customer = payments.customer_for("u-2", "u2@example.com")
    card = _saved_card(v1, customer)
    assert payments.saved_payment_method(customer) == card
    key = "booking:bk_charge:charge"
    ids = {payments.charge(customer_id=customer, payment_method=card, amount=Money(2500, "usd"),
                           idempotency_key=key, metadata={"booking_id": "bk_charge"}) for _ in range(3)}  # fmt: skip
    assert len(ids) == 1
    (pi,) = ids
    assert payments.find_charge(pi) == ("succeeded", Money(2500, "usd"))
    intents = [p for p in v1.payment_intents.list(params={"limit": 100}).data if p.customer == customer]
    assert [p.id for p in intents] == [pi]
    assert v1.payment_intents.retrieve(pi).metadata.booking_id == "bk_charge"


def test_refunds_partial_then_full_and_nothing_left_answers_the_existing_refund(
    payments: StripePayments, v1: Any
) -> None:
    customer = payments.customer_for("u-3", "u3@example.com")
    pi = payments.charge(customer_id=customer, payment_method=_saved_card(v1, customer), amount=Money(1000, "usd"),
                         idempotency_key="booking:bk_r:charge", metadata={})  # fmt: skip
    partial = payments.refund(pi, Money(300, "usd"), idempotency_key="booking:bk_r:cancel")
    assert payments.refund(pi, Money(300, "usd"), idempotency_key="booking:bk_r:cancel") == partial  # a retry
    # the saga's compensation asks for the whole amount: what is left (700) is refunded
    rest = payments.refund(pi, Money(1000, "usd"), idempotency_key="booking:bk_r:refund")
    refunds = v1.refunds.list(params={"payment_intent": pi}).data
    assert sorted(r.amount for r in refunds) == [300, 700] and rest != partial
    # nothing left: the refund that emptied it, no new one
    assert payments.refund(pi, Money(1000, "usd"), idempotency_key="booking:bk_r:refund-again") in {partial, rest}
    assert len(v1.refunds.list(params={"payment_intent": pi}).data) == 2


def test_a_declined_card_is_payment_declined(payments: StripePayments, v1: Any) -> None:
    customer = payments.customer_for("u-4", "u4@example.com")
    card = _saved_card(v1, customer, "pm_card_chargeCustomerFail")  # attaches, declines when charged
    with pytest.raises(PaymentDeclined) as declined:
        payments.charge(customer_id=customer, payment_method=card, amount=Money(500, "usd"),
                        idempotency_key="booking:bk_d:charge", metadata={})  # fmt: skip
    assert declined.value.details["code"] == "card_declined"


def test_faults_and_timeouts_are_payments_unavailable(payments: StripePayments, base: str, v1: Any) -> None:
    customer = payments.customer_for("u-5", "u5@example.com")
    card = _saved_card(v1, customer)
    fault(base, path_prefix="/v1/payment_intents", method="POST", status=500, times=1)
    with pytest.raises(PaymentsUnavailable):
        payments.charge(customer_id=customer, payment_method=card, amount=Money(700, "usd"),
                        idempotency_key="booking:bk_f:charge", metadata={})  # fmt: skip
    fault(base, path_prefix="/v1/payment_intents", method="POST", status=429, times=1)
    with pytest.raises(PaymentsUnavailable):
        payments.charge(customer_id=customer, payment_method=card, amount=Money(700, "usd"),
                        idempotency_key="booking:bk_f:charge", metadata={})  # fmt: skip
    fault(base, path_prefix="/v1/payment_intents", method="POST", delay_ms=2500, times=1)
    with pytest.raises(PaymentsUnavailable):  # the 2 s timeout
        payments.charge(customer_id=customer, payment_method=card, amount=Money(700, "usd"),
                        idempotency_key="booking:bk_f:charge", metadata={})  # fmt: skip
    # the retry (the saga's) charges once: the delayed request ran, and the same key answers its intent
    pi = payments.charge(customer_id=customer, payment_method=card, amount=Money(700, "usd"),
                         idempotency_key="booking:bk_f:charge", metadata={})  # fmt: skip
    assert [p.id for p in v1.payment_intents.list(params={"limit": 100}).data if p.customer == customer] == [pi]
    with pytest.raises(Unavailable):
        StripePayments(lambda: "", links=MemoryLinks(), api_base=base).customer_for("u-x", "x@example.com")


def test_checkout_sessions_for_a_booking_and_for_a_plan(payments: StripePayments, base: str, v1: Any) -> None:
    customer = payments.customer_for("u-6", "u6@example.com")
    with pytest.raises(Unavailable):  # a plan without a price (make stripe-setup creates free, pro, enterprise)
        payments.checkout_for_plan(customer_id=customer, plan="platinum", user_id="u-6", idempotency_key="k-plan-0")
    setup(setup_client(API_KEY, base), say=lambda _: None)
    assert setup(setup_client(API_KEY, base), say=lambda _: None)["created"] == 0  # a second run creates nothing
    sid, url = payments.checkout_for_booking(customer_id=customer, amount=Money(4200, "usd"), description="H100 x 2h",
                                             booking_id="bk_c", idempotency_key="booking:bk_c:checkout")  # fmt: skip
    again = payments.checkout_for_booking(customer_id=customer, amount=Money(4200, "usd"), description="H100 x 2h",
                                          booking_id="bk_c", idempotency_key="booking:bk_c:checkout")  # fmt: skip
    assert again == (sid, url) and url == f"{base}/checkout/pay/{sid}"
    session = v1.checkout.sessions.retrieve(sid)
    assert (session.mode, session.amount_total, session.metadata.to_dict()) == (
        "payment",
        4200,
        {"booking_id": "bk_c", "user_id": "u-6"},
    )
    # the web app's return pages, with the booking to link to ({CHECKOUT_SESSION_ID} is Stripe's to fill in)
    assert session.success_url == "http://app.test/billing/done?session_id={CHECKOUT_SESSION_ID}&booking_id=bk_c"
    assert session.cancel_url == "http://app.test/billing/cancelled?booking_id=bk_c"
    paid = requests.post(url, headers={"Accept": "application/json"}, timeout=10).json()
    assert payments.find_charge(paid["payment_intent"]) == ("succeeded", Money(4200, "usd"))
    assert payments.saved_payment_method(customer)  # the card is saved for the next booking

    # a session the saga gave up on is expired: it can no longer be paid; a paid one stays complete
    late_id, late_url = payments.checkout_for_booking(
        customer_id=customer,
        amount=Money(100, "usd"),
        description="x",
        booking_id="bk_late",
        idempotency_key="booking:bk_late:checkout",
    )
    assert payments.expire_checkout(late_id) == "expired"
    assert payments.expire_checkout(late_id) == "expired"
    assert requests.post(late_url, headers={"Accept": "application/json"}, timeout=10).json()["status"] == "expired"
    assert payments.expire_checkout(sid) == "complete"

    psid, purl = payments.checkout_for_plan(customer_id=customer, plan="enterprise", user_id="u-6",
                                            idempotency_key="user:u-6:checkout:enterprise:2026-12-05")  # fmt: skip
    plan_session = v1.checkout.sessions.retrieve(psid)
    assert plan_session.mode == "subscription" and purl.endswith(psid)
    assert plan_session.success_url.endswith("/billing/done?session_id={CHECKOUT_SESSION_ID}&plan=enterprise")
    sub = requests.post(purl, headers={"Accept": "application/json"}, timeout=10).json()["subscription"]
    subscription = v1.subscriptions.retrieve(sub)
    assert subscription.metadata.to_dict() == {"user_id": "u-6", "plan": "enterprise"}
    assert subscription["items"].data[0].plan.id == payments.plan_price("enterprise")


def test_meter_usage_counts_once_per_identifier(payments: StripePayments, base: str) -> None:
    setup(setup_client(API_KEY, base), say=lambda _: None)
    customer = payments.customer_for("u-7", "u7@example.com")
    for _ in range(3):
        assert payments.meter_usage(customer_id=customer, gpu_hours=4, identifier="booking:bk_m:usage") == (
            "booking:bk_m:usage"
        )
    payments.meter_usage(customer_id=customer, gpu_hours=2, identifier="booking:bk_m2:usage")
    assert requests.get(f"{base}/_local/meter_totals", timeout=5).json()["gpu_hours"][customer] == 6


@pytest.mark.xdist_group("aws")
def test_the_auth_table_links_a_user_to_one_customer_both_ways(endpoint: Any) -> None:
    from gpubroker.adapters.billing_store import DynamoBillingStore

    store = DynamoBillingStore(endpoint.names["AuthTable"])
    assert store.customer_of("u-link") is None
    assert store.link_user("u-link", "cus_first", email="l@example.com") == "cus_first"
    assert store.link_user("u-link", "cus_second", email="l@example.com") == "cus_first"  # the first link wins
    assert store.customer_of("u-link") == "cus_first"
    assert store.customer("cus_first") == ("u-link", "l@example.com")
    assert store.customer("cus_second") is None
