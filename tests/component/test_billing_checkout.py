"""POST /billing/checkout with real API Gateway events and in-memory ports (MemoryPayments): 201 with the session,
the same session for the same user, plan and day, 422 for an unknown plan, 401/403 without a verified user, 503
when Stripe is down, and the audit entry."""

from __future__ import annotations

import json
from typing import Any

from gpubroker.domain.accounts import Principal, User
from gpubroker.domain.errors import PaymentsUnavailable
from gpubroker.wiring.billing import BillingCheckoutApiDeps
from tests.component.conftest import handler_module
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED, FixedClock, trail
from tests.fakes_audit import MemoryAuditLog
from tests.fakes_auth import MemoryUsers
from tests.fakes_bookings import MemoryPayments

EMAIL, USER_ID = "ada@example.com", "u-ada"


class DownPayments(MemoryPayments):
    def checkout_for_plan(self, **kw: Any) -> tuple[str, str]:
        raise PaymentsUnavailable("Stripe answered 503")


class World:
    def __init__(self, payments: MemoryPayments | None = None) -> None:
        self.users = MemoryUsers()
        self.users.create(User(user_id=USER_ID, email=EMAIL, password_hash="x", email_verified=True))
        self.payments = payments or MemoryPayments()
        self.clock = FixedClock()
        self.audit = MemoryAuditLog()
        self.deps = BillingCheckoutApiDeps(front_door=UNLIMITED, audit=trail(self.audit), payments=self.payments,
                                           users=self.users, clock=self.clock)  # fmt: skip

    def post(self, body: Any, *, principal: Principal | None = None) -> tuple[int, dict[str, Any]]:
        ev = rest_event("/billing/checkout", "/billing/checkout")
        ev["httpMethod"] = "POST"
        ev["headers"] = {"Content-Type": "application/json"}
        ev["body"] = body if isinstance(body, str) else json.dumps(body)
        if principal is not None:
            ev["requestContext"]["authorizer"] = principal.to_context()
        res = handler_module("api_billing_checkout").lambda_handler(ev, Ctx(), deps=self.deps)
        return int(res["statusCode"]), json.loads(res["body"])

    def audited(self) -> list[tuple[str, str, str]]:
        entries = sorted((e for n in range(self.audit.shards) for e in self.audit.all_entries(n)), key=lambda e: e.ts)
        return [(e.action, e.resource, e.outcome) for e in entries]


ME = Principal(user_id=USER_ID, email_verified=True)


def test_a_plan_checkout_answers_201_with_the_session_once_per_user_plan_and_day() -> None:
    w = World()
    status, body = w.post({"plan": "pro"}, principal=ME)
    assert status == 201 and set(body) == {"session_id", "url"}
    session = w.payments.sessions[body["session_id"]]
    customer = session["customer"]
    assert session == {"customer": customer, "plan": "pro", "user_id": USER_ID}
    assert w.payments.customers[customer] == USER_ID
    assert w.post({"plan": "pro"}, principal=ME) == (201, body)  # a double click: the same session
    other = w.post({"plan": "enterprise"}, principal=ME)[1]
    assert other["session_id"] != body["session_id"]
    w.clock.advance(24 * 3600)
    assert w.post({"plan": "pro"}, principal=ME)[1]["session_id"] not in {body["session_id"], other["session_id"]}
    assert len(w.payments.customers) == 1  # one customer throughout
    assert w.audited()[0] == ("billing.checkout", "plan/pro", "ok")


def test_bad_plans_and_bodies_are_422_and_nothing_is_created() -> None:
    w = World()
    for body in ({"plan": "free"}, {"plan": "platinum"}, {}, {"plan": "pro", "extra": 1}):
        status, answer = w.post(body, principal=ME)
        assert status == 422, (body, answer)
    assert w.payments.sessions == {} and w.payments.customers == {}


def test_it_needs_a_signed_in_user_with_a_verified_email() -> None:
    w = World()
    assert w.post({"plan": "pro"})[0] == 401
    status, body = w.post({"plan": "pro"}, principal=Principal(user_id=USER_ID, email_verified=False))
    assert (status, body["error"]["code"]) == (403, "email_not_verified")
    assert w.payments.sessions == {}


def test_stripe_down_is_503_payments_unavailable() -> None:
    w = World(DownPayments())
    status, body = w.post({"plan": "enterprise"}, principal=ME)
    assert (status, body["error"]["code"]) == (503, "payments_unavailable")
