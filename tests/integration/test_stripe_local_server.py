"""The local Stripe server (infra/local/stripe_server.py) over real HTTP with the official SDK: what localstripe
lacked and the server adds (idempotency, prices by lookup key, Checkout and its pay page with signed webhooks,
meter events deduplicated by identifier, fault injection)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import stripe

from tests.integration.stripe_local import (
    API_KEY,
    RECEIVER_SECRET,
    Received,
    clear_faults,
    fault,
    stripe_server,
    webhook_receiver,
)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("stripe")]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Received]]:
    with (
        webhook_receiver() as (url, received),
        stripe_server("--webhook", url, "--webhook-secret", RECEIVER_SECRET) as base,
    ):
        yield base, received


@pytest.fixture
def v1(server: tuple[str, Received]) -> Any:
    clear_faults(server[0])
    return stripe.StripeClient(API_KEY, base_addresses={"api": server[0]}, max_network_retries=0).v1


def test_an_idempotency_key_replays_the_first_answer_even_for_20_concurrent_duplicates(server: Any, v1: Any) -> None:
    base, _ = server
    start = threading.Barrier(20)
    params = {"email": "dup@example.com", "metadata": {"user_id": "u-dup"}}

    def create(_: int) -> str:
        start.wait()
        return str(v1.customers.create(params=params, options={"idempotency_key": "user:u-dup:customer"}).id)

    with ThreadPoolExecutor(20) as pool:
        ids = set(pool.map(create, range(20)))
    assert len(ids) == 1
    made = [c for c in v1.customers.list(params={"limit": 100}).data if c.email == "dup@example.com"]
    assert [c.id for c in made] == list(ids)
    # the raw answer says it is a replay, with the first status and body
    raw = requests.post(f"{base}/v1/customers", data={"email": "dup@example.com", "metadata[user_id]": "u-dup"},
                        headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "user:u-dup:customer"},
                        timeout=5)  # fmt: skip
    assert (raw.status_code, raw.json()["id"], raw.headers["Idempotent-Replayed"]) == (200, ids.pop(), "true")


def test_a_reused_key_with_other_parameters_is_refused_and_errors_replay_too(v1: Any) -> None:
    v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": "k-reuse"})
    with pytest.raises(stripe.IdempotencyError):
        v1.customers.create(params={"email": "b@example.com"}, options={"idempotency_key": "k-reuse"})
    # a 4xx is kept as Stripe keeps it: the same request gets the same refusal back
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError):
            v1.prices.create(params={"currency": "usd", "unit_amount": 5, "product": "prod_missing"},
                             options={"idempotency_key": "k-404"})  # fmt: skip


def test_prices_are_found_by_lookup_key_and_a_lookup_key_is_unique(v1: Any) -> None:
    product = v1.products.create(params={"name": "Plan A"})
    monthly = v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 2900,
                                       "recurring": {"interval": "month"}, "lookup_key": "t_plan_a"})  # fmt: skip
    v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 100, "lookup_key": "t_other"})
    found = v1.prices.list(params={"lookup_keys": ["t_plan_a"]}).data
    assert [(p.id, p.unit_amount, p.recurring.interval, p.type) for p in found] == [
        (monthly.id, 2900, "month", "recurring")
    ]
    assert v1.prices.retrieve(monthly.id).lookup_key == "t_plan_a"
    with pytest.raises(stripe.InvalidRequestError):
        v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 1, "lookup_key": "t_plan_a"})
    moved = v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 3100,
                                     "lookup_key": "t_plan_a", "transfer_lookup_key": True})  # fmt: skip
    assert [p.id for p in v1.prices.list(params={"lookup_keys": ["t_plan_a"]}).data] == [moved.id]


def test_paying_a_checkout_session_saves_the_card_charges_and_posts_a_correctly_signed_webhook(
    server: Any, v1: Any
) -> None:
    base, received = server
    customer = v1.customers.create(params={"email": "pay@example.com"})
    session = v1.checkout.sessions.create(params={
        "mode": "payment", "customer": customer.id, "success_url": "http://app.test/done",
        "metadata": {"booking_id": "bk_1", "user_id": "u-pay"},
        "line_items": [{"quantity": 2, "price_data": {"currency": "usd", "unit_amount": 450,
                                                      "product_data": {"name": "H100 x 1h"}}}],
        "payment_intent_data": {"setup_future_usage": "off_session"},
    })  # fmt: skip
    assert session.url == f"{base}/checkout/pay/{session.id}"
    assert (session.status, session.payment_status, session.amount_total) == ("open", "unpaid", 900)
    page = requests.get(session.url, timeout=5)
    assert page.status_code == 200 and "<form" in page.text
    # a declined card: 402, the session stays open and the card is not saved
    declined = requests.post(session.url, data={"payment_method": "pm_card_chargeCustomerFail"},
                             headers={"Accept": "application/json"}, timeout=10)  # fmt: skip
    assert (declined.status_code, declined.json()["error"]["code"]) == (402, "card_declined")
    assert v1.checkout.sessions.retrieve(session.id).status == "open"
    assert v1.customers.retrieve(customer.id).invoice_settings.default_payment_method is None
    paid = requests.post(session.url, headers={"Accept": "application/json"}, timeout=10).json()
    assert (paid["status"], paid["payment_status"]) == ("complete", "paid")
    # the webhook was posted before the answer: verify it as the webhook function does
    completed = received.events("checkout.session.completed")
    ((_, headers, raw),) = [e for e in completed if e[0]["data"]["object"]["id"] == session.id]
    event = stripe.Webhook.construct_event(raw.decode(), headers["Stripe-Signature"], RECEIVER_SECRET)
    assert event.type == "checkout.session.completed"
    assert event.data.object.metadata.to_dict() == {"booking_id": "bk_1", "user_id": "u-pay"}
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(raw.decode(), headers["Stripe-Signature"], "whsec_wrong")
    intent = v1.payment_intents.retrieve(paid["payment_intent"])
    assert (intent.status, intent.amount, intent.customer) == ("succeeded", 900, customer.id)
    assert v1.customers.retrieve(customer.id).invoice_settings.default_payment_method == intent.payment_method
    received.wait_for("payment_intent.succeeded")
    v1.refunds.create(params={"payment_intent": intent.id, "amount": 400})
    refunded = [
        e for e, _, _ in received.wait_for("charge.refunded") if e["data"]["object"]["payment_intent"] == intent.id
    ]
    assert refunded and (
        refunded[0]["data"]["object"]["amount_refunded"],
        refunded[0]["data"]["object"]["refunded"],
    ) == (400, False)
    # a completed session is not paid twice
    again = requests.post(session.url, headers={"Accept": "application/json"}, timeout=10).json()
    assert again["payment_intent"] == paid["payment_intent"]


def test_a_browser_that_pays_is_sent_to_success_url_and_an_open_page_links_to_cancel_url(v1: Any) -> None:
    """As on Stripe's hosted page: the form's POST answers 303 to the app's return page (the session id filled in);
    a declined card stays on the page; the open page links back to cancel_url."""
    customer = v1.customers.create(params={"email": "back@example.com"})
    session = v1.checkout.sessions.create(params={
        "mode": "payment", "customer": customer.id, "cancel_url": "http://app.test/app/billing/cancelled?booking_id=b1",
        "success_url": "http://app.test/app/billing/done?session_id={CHECKOUT_SESSION_ID}&booking_id=b1",
        "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 300,
                                                      "product_data": {"name": "A100 x 1h"}}}],
    })  # fmt: skip
    page = requests.get(session.url, timeout=5).text
    assert 'href="http://app.test/app/billing/cancelled?booking_id=b1"' in page
    declined = requests.post(session.url, data={"payment_method": "pm_card_chargeCustomerFail"}, timeout=10,
                             allow_redirects=False)  # fmt: skip
    assert declined.status_code == 402 and "Payment failed" in declined.text
    paid = requests.post(session.url, data={"payment_method": "pm_card_visa"}, timeout=10, allow_redirects=False)
    assert paid.status_code == 303
    assert paid.headers["Location"] == f"http://app.test/app/billing/done?session_id={session.id}&booking_id=b1"
    assert "cancelled" not in requests.get(session.url, timeout=5).text  # a paid session: no way back to cancel


def test_a_subscription_checkout_creates_the_subscription_with_its_metadata(server: Any, v1: Any) -> None:
    _, received = server
    product = v1.products.create(params={"name": "Pro"})
    price = v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 2900,
                                     "recurring": {"interval": "month"}})  # fmt: skip
    customer = v1.customers.create(params={"email": "sub@example.com"})
    session = v1.checkout.sessions.create(params={
        "mode": "subscription", "customer": customer.id, "success_url": "http://app.test/done",
        "line_items": [{"price": price.id, "quantity": 1}], "metadata": {"user_id": "u-sub", "plan": "pro"},
        "subscription_data": {"metadata": {"user_id": "u-sub", "plan": "pro"}},
    })  # fmt: skip
    paid = requests.post(session.url, headers={"Accept": "application/json"}, timeout=10).json()
    subscription = v1.subscriptions.retrieve(paid["subscription"])
    assert (subscription.status, subscription.metadata.to_dict()) == ("active", {"user_id": "u-sub", "plan": "pro"})
    created = [e for e, _, _ in received.wait_for("customer.subscription.created", n=1)
               if e["data"]["object"]["id"] == subscription.id]  # fmt: skip
    assert created and created[0]["data"]["object"]["metadata"]["plan"] == "pro"
    paid = [
        e for e, _, _ in received.wait_for("invoice.paid") if e["data"]["object"]["subscription"] == subscription.id
    ]
    assert paid and paid[0]["data"]["object"]["status"] == "paid"


def test_meter_events_count_once_per_identifier(server: Any, v1: Any) -> None:
    base, _ = server
    meter = v1.billing.meters.create(params={
        "display_name": "GPU hours", "event_name": "t_gpu_hours", "default_aggregation": {"formula": "sum"},
        "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
        "value_settings": {"event_payload_key": "value"}})  # fmt: skip
    for identifier, value in [("booking:b1:usage", 3), ("booking:b1:usage", 3), ("booking:b2:usage", 5)]:
        v1.billing.meter_events.create(
            params={
                "event_name": "t_gpu_hours",
                "identifier": identifier,
                "payload": {"stripe_customer_id": "cus_m", "value": str(value)},
            }
        )
    summary = v1.billing.meters.event_summaries.list(meter.id, params={"customer": "cus_m", "start_time": 0,
                                                                       "end_time": int(time.time()) + 60})  # fmt: skip
    assert summary.data[0].aggregated_value == 8
    assert requests.get(f"{base}/_local/meter_totals", timeout=5).json()["t_gpu_hours"] == {"cus_m": 8}
    with pytest.raises(stripe.InvalidRequestError):  # no meter for that event name
        v1.billing.meter_events.create(
            params={"event_name": "nope", "payload": {"stripe_customer_id": "c", "value": "1"}}
        )


def test_faults_fail_or_delay_the_next_matching_requests_then_stop(server: Any, v1: Any) -> None:
    base, _ = server
    fault(base, path_prefix="/v1/customers", status=500, times=2)
    for _ in range(2):
        with pytest.raises(stripe.APIError):
            v1.customers.create(params={"email": "f@example.com"}, options={"idempotency_key": "k-fault"})
    # a 5xx is not kept: the retry with the same key runs the request
    assert v1.customers.create(params={"email": "f@example.com"}, options={"idempotency_key": "k-fault"}).id
    fault(base, path_prefix="/v1/customers", delay_ms=1500, times=1)
    slow = stripe.StripeClient(API_KEY, base_addresses={"api": base}, max_network_retries=0,
                               http_client=stripe.new_default_http_client(timeout=0.3)).v1  # fmt: skip
    with pytest.raises(stripe.APIConnectionError):
        slow.customers.list()
    fault(base, path_prefix="/v1/customers", status=503, times=5)
    clear_faults(base)
    assert v1.customers.list().object == "list"
