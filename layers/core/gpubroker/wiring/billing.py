"""Billing: the Stripe client (``payments()``, for the checkout route, the booking saga and the bookings helpers), the
plan checkout (``POST /billing/checkout``) and the Stripe webhook (``POST /billing/webhook``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Final

from gpubroker.api.deps import AuditedApiDeps
from gpubroker.config import BillingCheckoutSettings, BillingWebhookSettings, StripeSettings, load_settings
from gpubroker.wiring import edge

if TYPE_CHECKING:
    from gpubroker.adapters.payments import StripePayments
    from gpubroker.ports import Clock, Payments
    from gpubroker.services.billing_checkout import UserEmails
    from gpubroker.services.billing_webhooks import WebhookDeps

LOCAL_WEBHOOK_SECRET: Final = "whsec_gpubroker_local_stack"  # noqa: S105 - public by design: local stack only
"""The webhook secret of the local stack when its (empty) Stripe secret has none: used only where the AWS endpoint
is a local one (``AWS_ENDPOINT_URL`` set, as ``make dev`` and the integration tests do); never in AWS, where a
secret without ``webhook_secret`` refuses every webhook."""

LOCAL_API_KEY: Final = "sk_test_gpubroker_local"
"""The Stripe API key of the local stack when its secret has none (same rule as ``LOCAL_WEBHOOK_SECRET``)."""


def payments_from(s: StripeSettings) -> StripePayments:
    """The Stripe client of a function whose settings include ``StripeSettings``: the secret's ``api_key`` (read on
    each client use, so a rotation reaches warm containers), ``STRIPE_API_BASE``, the auth table's customer links."""
    from gpubroker.adapters.billing_store import DynamoBillingStore
    from gpubroker.adapters.payments import StripePayments
    from gpubroker.adapters.secrets import SecretField, SecretsManagerCredentials

    local = LOCAL_API_KEY if os.environ.get("AWS_ENDPOINT_URL") else None
    key = SecretField(SecretsManagerCredentials(s.STRIPE_SECRET_ID), "api_key", fallback=local)
    return StripePayments(key.value, links=DynamoBillingStore(s.AUTH_TABLE), api_base=s.STRIPE_API_BASE,
                          return_url=s.APP_URL)  # fmt: skip


@cache
def payments() -> StripePayments:
    """The container's Stripe client, from the environment (``STRIPE_SECRET_ID``, ``AUTH_TABLE``,
    ``STRIPE_API_BASE``, ``APP_URL``): what the saga's steps and the bookings helpers call."""
    return payments_from(load_settings(StripeSettings))


@dataclass(frozen=True, kw_only=True)
class BillingCheckoutApiDeps(AuditedApiDeps):
    payments: Payments
    users: UserEmails
    clock: Clock


@cache
def billing_checkout_deps() -> BillingCheckoutApiDeps:
    from gpubroker.adapters.auth_store import DynamoUserStore

    s = load_settings(BillingCheckoutSettings)
    return BillingCheckoutApiDeps(front_door=edge.front_door(), audit=edge.audit_trail(), payments=payments_from(s),
                                  users=DynamoUserStore(s.AUTH_TABLE), clock=edge.system_clock())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class BillingWebhookApiDeps(AuditedApiDeps):
    webhook: WebhookDeps


def webhook_service_deps(s: BillingWebhookSettings) -> WebhookDeps:
    from gpubroker.adapters.auth_store import DynamoUserStore
    from gpubroker.adapters.billing_store import DynamoBillingStore
    from gpubroker.adapters.secrets import SecretField, SecretsManagerCredentials
    from gpubroker.adapters.task_tokens import StepFunctionsTaskTokens
    from gpubroker.services.billing_webhooks import WebhookDeps

    local = LOCAL_WEBHOOK_SECRET if os.environ.get("AWS_ENDPOINT_URL") else None
    secret = SecretField(SecretsManagerCredentials(s.STRIPE_SECRET_ID), "webhook_secret", fallback=local)
    from gpubroker.wiring.bookings import booking_store

    bookings = booking_store(s.BOOKINGS_TABLE)
    return WebhookDeps(secret=secret, store=DynamoBillingStore(s.AUTH_TABLE), users=DynamoUserStore(s.AUTH_TABLE),
                       bookings=bookings, task_tokens=StepFunctionsTaskTokens(), payments=payments,
                       audit=edge.audit_trail())  # fmt: skip


@cache
def billing_webhook_deps() -> BillingWebhookApiDeps:
    s = load_settings(BillingWebhookSettings)
    return BillingWebhookApiDeps(front_door=edge.front_door(), audit=edge.audit_trail(),
                                 webhook=webhook_service_deps(s))  # fmt: skip
