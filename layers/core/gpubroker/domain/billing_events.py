"""Stripe webhook events, read: which events we act on, the plan a subscription gives, the order of events. Pure.

An event is applied at most once (its id is claimed by a conditional write, ``adapters/billing_store.py``), and
plan changes are ordered by :func:`order_key` (the event's ``created`` second, then its id), so a late or replayed
older event never overwrites a newer plan: the user's plan is that of the newest subscription event whatever order
they arrive in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from gpubroker.domain.errors import InvalidWebhookEvent
from gpubroker.domain.money import Money
from gpubroker.domain.plans import Plan

SUBSCRIPTION_EVENTS: Final = frozenset(
    {"customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"}
)
PAYMENT_FAILED: Final = "invoice.payment_failed"
RECEIVED_ONLY: Final = frozenset(
    {"checkout.session.completed", "invoice.paid", "payment_intent.succeeded", "payment_intent.payment_failed",
     "charge.refunded"}
)  # fmt: skip
"""Listed by issue 12 and acknowledged now; stored with their payload for the booking and checkout work to use."""

PAYING_STATUSES: Final = frozenset({"active", "trialing", "past_due"})
"""A subscription in one of these statuses gives its plan; any other (canceled, unpaid, incomplete, paused...)
gives the free plan. ``past_due`` keeps the plan while Stripe retries the payment (its dunning decides the end)."""

MAX_STORED_PAYLOAD: Final = 100_000
"""Bytes of an event body kept with a received-only event (a DynamoDB item holds 400 KB)."""


@dataclass(frozen=True)
class StripeEvent:
    """The parts of a verified event we use: its id, type, ``created`` (epoch s), the event's object, the raw body."""

    event_id: str
    type: str
    created: int
    obj: Mapping[str, Any]
    livemode: bool = False

    @property
    def order(self) -> str:
        return order_key(self.created, self.event_id)


def order_key(created: int, event_id: str) -> str:
    """A string that sorts events by creation second, ties broken by id: a total order every replica agrees on."""
    return f"{max(created, 0):012d}:{event_id}"


def read_event(data: object) -> StripeEvent:
    """The event of a verified body, or :class:`InvalidWebhookEvent` if it is not shaped like a Stripe event."""
    if not isinstance(data, Mapping):
        raise InvalidWebhookEvent("the body is not a Stripe event")
    event_id, kind, created = data.get("id"), data.get("type"), data.get("created")
    obj = (data.get("data") or {}).get("object") if isinstance(data.get("data"), Mapping) else None
    if not (isinstance(event_id, str) and event_id.startswith("evt_") and 4 < len(event_id) <= 255):
        raise InvalidWebhookEvent("the event has no valid id")
    if not isinstance(kind, str) or not kind or len(kind) > 100:
        raise InvalidWebhookEvent("the event has no type")
    if isinstance(created, bool) or not isinstance(created, int):
        raise InvalidWebhookEvent("the event has no creation time")
    if not isinstance(obj, Mapping):
        raise InvalidWebhookEvent("the event has no data.object")
    return StripeEvent(event_id=event_id, type=kind, created=created, obj=obj, livemode=bool(data.get("livemode")))


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def customer_of(obj: Mapping[str, Any]) -> str | None:
    """The Stripe customer id of an object (``customer`` is an id, or an expanded customer)."""
    customer = obj.get("customer")
    if isinstance(customer, Mapping):
        return _str(customer.get("id"))
    return _str(customer)


def user_id_of(obj: Mapping[str, Any]) -> str | None:
    """Our user id, when the object's metadata names it (checkout sets ``metadata.user_id`` on the subscription)."""
    metadata = obj.get("metadata")
    return _str(metadata.get("user_id")) if isinstance(metadata, Mapping) else None


def _plan_name(value: object) -> Plan | None:
    if isinstance(value, str):
        try:
            return Plan(value.strip().lower())
        except ValueError:
            return None
    return None


def _price_plan(price: object) -> Plan | None:
    if not isinstance(price, Mapping):
        return None
    metadata = price.get("metadata")
    found = _plan_name(price.get("lookup_key"))
    if found is None and isinstance(metadata, Mapping):
        found = _plan_name(metadata.get("plan"))
    return found


def subscription_plan(event: StripeEvent) -> Plan:
    """The plan a subscription event gives its user: free once deleted or not paying; else the plan named by an
    item's price (``lookup_key`` or ``metadata.plan``: the setup script's prices), else by the subscription's
    ``metadata.plan``; the best such plan when items name several; free when none is named."""
    obj = event.obj
    if event.type == "customer.subscription.deleted" or obj.get("status") not in PAYING_STATUSES:
        return Plan.FREE
    named: list[Plan] = []
    items = obj.get("items")
    for item in items.get("data", []) if isinstance(items, Mapping) else []:
        plan = _price_plan(item.get("price") if isinstance(item, Mapping) else None)
        if plan is not None:
            named.append(plan)
    if not named:
        metadata = obj.get("metadata")
        plan = _plan_name(metadata.get("plan")) if isinstance(metadata, Mapping) else None
        named = [plan] if plan is not None else []
    rank = list(Plan)
    return max(named, key=rank.index, default=Plan.FREE)


def invoice_amount_due(obj: Mapping[str, Any]) -> Money | None:
    """An invoice's ``amount_due`` as Money (Stripe sends integer minor units and a lower-case currency)."""
    amount, currency = obj.get("amount_due"), obj.get("currency")
    if isinstance(amount, bool) or not isinstance(amount, int) or not isinstance(currency, str):
        return None
    try:
        return Money(amount, currency)
    except ValueError:
        return None


PlanOutcome = Literal["applied", "duplicate", "superseded", "user_unknown"]


@dataclass(frozen=True)
class EventRecord:
    """What is kept of one accepted event."""

    event_id: str
    type: str
    created: int
    outcome: str
    received_at: int
    fields: dict[str, str] = field(default_factory=dict)
    payload: str | None = None
