"""Billing: the Stripe webhook (``POST /billing/webhook``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Final

from gpubroker.api.deps import AuditedApiDeps
from gpubroker.config import BillingWebhookSettings, load_settings
from gpubroker.wiring import edge

if TYPE_CHECKING:
    from gpubroker.services.billing_webhooks import WebhookDeps
    from gpubroker.wiring.saga import stripe_payments

LOCAL_WEBHOOK_SECRET: Final = "whsec_gpubroker_local_stack"  # noqa: S105 - public by design: local stack only
"""The webhook secret of the local stack when its (empty) Stripe secret has none: used only where the AWS endpoint
is a local one (``AWS_ENDPOINT_URL`` set, as ``make dev`` and the integration tests do); never in AWS, where a
secret without ``webhook_secret`` refuses every webhook."""


@dataclass(frozen=True, kw_only=True)
class BillingWebhookApiDeps(AuditedApiDeps):
    webhook: WebhookDeps


def webhook_service_deps(s: BillingWebhookSettings) -> WebhookDeps:
    from gpubroker.adapters.auth_store import DynamoUserStore
    from gpubroker.adapters.billing_store import DynamoBillingStore
    from gpubroker.adapters.booking_store import DynamoBookingStore
    from gpubroker.adapters.secrets import SecretField, SecretsManagerCredentials
    from gpubroker.adapters.task_tokens import StepFunctionsTaskTokens
    from gpubroker.services.billing_webhooks import WebhookDeps

    local = LOCAL_WEBHOOK_SECRET if os.environ.get("AWS_ENDPOINT_URL") else None
    secret = SecretField(SecretsManagerCredentials(s.STRIPE_SECRET_ID), "webhook_secret", fallback=local)
    bookings = DynamoBookingStore(s.BOOKINGS_TABLE)
    return WebhookDeps(secret=secret, store=DynamoBillingStore(s.AUTH_TABLE), users=DynamoUserStore(s.AUTH_TABLE),
                       bookings=bookings, task_tokens=StepFunctionsTaskTokens(), payments=stripe_payments,
                       audit=edge.audit_trail())  # fmt: skip


@cache
def billing_webhook_deps() -> BillingWebhookApiDeps:
    s = load_settings(BillingWebhookSettings)
    return BillingWebhookApiDeps(front_door=edge.front_door(), audit=edge.audit_trail(),
                                 webhook=webhook_service_deps(s))  # fmt: skip
