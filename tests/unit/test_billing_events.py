"""Reading Stripe events: which plan a subscription gives, the event order, and what is not an event."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpubroker.domain.billing_events import invoice_amount_due, order_key, read_event, subscription_plan
from gpubroker.domain.errors import InvalidWebhookEvent
from gpubroker.domain.money import Money
from tests.fakes_billing import event, subscription


def parsed(kind: str, obj: dict[str, Any]) -> Any:
    return read_event(json.loads(event(kind, obj)))


@pytest.mark.parametrize(
    ("kind", "plan", "status", "expected"),
    [("customer.subscription.created", "pro", "active", "pro"),
     ("customer.subscription.updated", "enterprise", "trialing", "enterprise"),
     ("customer.subscription.updated", "pro", "past_due", "pro"),
     ("customer.subscription.updated", "pro", "unpaid", "free"),
     ("customer.subscription.updated", "pro", "incomplete", "free"),
     ("customer.subscription.deleted", "pro", "active", "free"),
     ("customer.subscription.updated", "platinum", "active", "free"),
     ("customer.subscription.updated", None, "active", "free")],
)  # fmt: skip
def test_the_plan_of_a_subscription(kind: str, plan: str | None, status: str, expected: str) -> None:
    assert subscription_plan(parsed(kind, subscription(plan, status=status))) == expected


def test_the_plan_from_price_metadata_or_subscription_metadata_and_the_best_of_several_items() -> None:
    sub = subscription(None)
    sub["items"]["data"][0]["price"]["metadata"] = {"plan": "Enterprise"}
    assert subscription_plan(parsed("customer.subscription.created", sub)) == "enterprise"
    sub = subscription(None)
    sub["metadata"] = {"plan": "pro"}
    assert subscription_plan(parsed("customer.subscription.created", sub)) == "pro"
    sub = subscription("pro")
    sub["items"]["data"].append({"id": "si_2", "price": {"lookup_key": "enterprise"}})
    assert subscription_plan(parsed("customer.subscription.created", sub)) == "enterprise"


@given(st.integers(0, 10**11), st.integers(0, 10**11), st.text("abc", min_size=1), st.text("abc", min_size=1))
def test_order_key_sorts_by_time_then_id(t1: int, t2: int, a: str, b: str) -> None:
    if t1 != t2:
        assert (order_key(t1, a) < order_key(t2, b)) == (t1 < t2)
    else:
        assert (order_key(t1, a) < order_key(t2, b)) == (a < b)


@pytest.mark.parametrize(
    "data",
    [[], {"id": "x", "type": "a", "created": 1, "data": {"object": {}}},
     {"id": "evt_1", "type": "", "created": 1, "data": {"object": {}}},
     {"id": "evt_1", "type": "a", "created": "1", "data": {"object": {}}},
     {"id": "evt_1", "type": "a", "created": True, "data": {"object": {}}},
     {"id": "evt_1", "type": "a", "created": 1, "data": {"object": []}},
     {"id": "evt_1", "type": "a", "created": 1}],
)  # fmt: skip
def test_what_is_not_an_event(data: Any) -> None:
    with pytest.raises(InvalidWebhookEvent):
        read_event(data)


def test_an_invoice_amount_is_money_or_nothing() -> None:
    assert invoice_amount_due({"amount_due": 2900, "currency": "usd"}) == Money(2900, "usd")
    assert invoice_amount_due({"amount_due": 29.0, "currency": "usd"}) is None
    assert invoice_amount_due({"amount_due": 1, "currency": "dollars"}) is None
