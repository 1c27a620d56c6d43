"""Plan changes through Stripe Checkout (``POST /billing/checkout``): pure orchestration over the ports.

The session's idempotency key is ``user:{id}:checkout:{plan}:{UTC date}``: a double click, a retried request or a
reload the same day gets the same session back (Stripe keeps a key 24 h), a new day a new one (docs/decisions.md).
The plan itself changes when Stripe's ``checkout.session.completed`` / ``customer.subscription.*`` webhook arrives
(services/billing_webhooks.py), never here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gpubroker.domain.errors import Unauthorized
from gpubroker.domain.plans import Plan
from gpubroker.ports import Payments

PAID_PLANS = (Plan.PRO, Plan.ENTERPRISE)


class UserEmails(Protocol):
    def by_id(self, user_id: str) -> object | None: ...


@dataclass(frozen=True)
class PlanCheckout:
    session_id: str
    url: str


def checkout_key(user_id: str, plan: str, now: datetime) -> str:
    return f"user:{user_id}:checkout:{plan}:{now.date().isoformat()}"


def checkout_plan(user_id: str, plan: str, *, payments: Payments, users: UserEmails, now: datetime) -> PlanCheckout:
    """A Checkout Session (mode subscription) for ``plan`` on the user's own Stripe customer (created once)."""
    if plan not in PAID_PLANS:  # the request model allows only these; a direct caller gets the same rule
        raise ValueError(f"not a paid plan: {plan!r}")
    user = users.by_id(user_id)
    email = getattr(user, "email", None)
    if user is None or not isinstance(email, str):
        raise Unauthorized("this account no longer exists")
    customer = payments.customer_for(user_id, email)
    session_id, url = payments.checkout_for_plan(customer_id=customer, plan=plan, user_id=user_id,
                                                 idempotency_key=checkout_key(user_id, plan, now))  # fmt: skip
    return PlanCheckout(session_id, url)
