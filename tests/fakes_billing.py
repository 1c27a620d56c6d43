"""Stripe webhooks for tests: events and signatures made exactly as Stripe makes them, an in-memory billing store
with the DynamoDB store's semantics (one claim per event id; a plan set only by a newer event), and a request."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from gpubroker.domain.billing_events import EventRecord, PlanOutcome
from tests.events import Ctx, rest_event

SECRET = "whsec_test_0123456789abcdef"
_IDS = itertools.count(1)


def sign(body: str, secret: str = SECRET, *, at: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends: ``t=<unix time>,v1=<hex HMAC-SHA256(secret, "t.body")>``."""
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(kind: str, obj: dict[str, Any], *, event_id: str | None = None, created: int | None = None) -> str:
    """A Stripe event body (the fields Stripe sends that we read, plus some we do not)."""
    return json.dumps({
        "id": event_id or f"evt_test_{next(_IDS):06d}", "object": "event", "api_version": "2025-09-30.clover",
        "type": kind, "created": int(time.time()) if created is None else created, "livemode": False,
        "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}, "data": {"object": obj},
    })  # fmt: skip


def subscription(plan: str | None, *, customer: str = "cus_test1", user_id: str | None = None,
                 status: str = "active") -> dict[str, Any]:  # fmt: skip
    """A subscription object whose one item's price names ``plan`` by its lookup key."""
    price: dict[str, Any] = {"id": f"price_{plan}", "object": "price", "lookup_key": plan, "metadata": {},
                             "unit_amount": 2900, "currency": "usd"}  # fmt: skip
    return {"id": "sub_test1", "object": "subscription", "customer": customer, "status": status,
            "metadata": {"user_id": user_id} if user_id else {},
            "items": {"object": "list", "data": [{"id": "si_1", "price": price, "quantity": 1}]}}  # fmt: skip


def webhook_event(body: str, signature: str | None, *, ip: str = "3.18.12.63") -> dict[str, Any]:
    """The API Gateway event of a webhook delivery."""
    ev = rest_event("/billing/webhook", "/billing/webhook")
    ev["httpMethod"] = "POST"
    ev["body"] = body
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    ev["headers"] = headers
    ev["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    ev["requestContext"]["identity"]["sourceIp"] = ip
    return ev


def deliver(handler: Any, body: str, signature: str | None, deps: Any) -> tuple[int, dict[str, Any]]:
    res = handler.lambda_handler(webhook_event(body, signature), Ctx(), deps=deps)
    return int(res["statusCode"]), json.loads(res["body"])


@dataclass
class StaticSecret:
    secret: str = SECRET

    def value(self) -> str:
        return self.secret


@dataclass
class MemoryBillingStore:
    """The DynamoDB store's rules in memory; ``plans`` is the profiles' plan by email (None: no such profile)."""

    plans: dict[str, str] = field(default_factory=dict)
    events: dict[str, EventRecord] = field(default_factory=dict)
    customers: dict[str, tuple[str, str]] = field(default_factory=dict)
    plan_event: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self, record: EventRecord) -> bool:
        with self.lock:
            if record.event_id in self.events:
                return False
            self.events[record.event_id] = record
            return True

    def apply_plan(
        self, record: EventRecord, *, email: str, plan: str, order: str, customer: str | None
    ) -> PlanOutcome:
        with self.lock:
            if record.event_id in self.events:
                return "duplicate"
            if email not in self.plans:
                outcome: PlanOutcome = "user_unknown"
            elif self.plan_event.get(email, "") >= order:
                outcome = "superseded"
            else:
                self.plans[email], self.plan_event[email] = plan, order
                outcome = "applied"
            self.events[record.event_id] = EventRecord(**{**record.__dict__, "outcome": outcome})
            return outcome

    def link_customer(self, customer_id: str, *, user_id: str, email: str) -> None:
        self.customers[customer_id] = (user_id, email)

    def customer(self, customer_id: str) -> tuple[str, str] | None:
        return self.customers.get(customer_id)
