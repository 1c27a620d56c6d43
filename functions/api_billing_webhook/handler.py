"""POST /billing/webhook (public, no authorizer: Stripe signs it): a Stripe event, verified against the raw body's
``Stripe-Signature`` (endpoint secret, 300 s tolerance), deduplicated by event id and applied once.

Bad, missing or stale signature: 400 ``invalid_signature``, nothing written. A plan change applies from the user's
next token refresh. Audited as ``billing.webhook`` on ``stripe_event/<id>`` (services/billing_webhooks.py)."""

from __future__ import annotations

import base64
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Header

from gpubroker.api.audit import audit_middleware
from gpubroker.api.billing_models import WebhookAck
from gpubroker.api.errors import ErrorResponse
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import BillingWebhookSettings
from gpubroker.services import billing_webhooks
from gpubroker.wiring.billing import BillingWebhookApiDeps, billing_webhook_deps

Settings = BillingWebhookSettings
Deps = BillingWebhookApiDeps
app = new_resolver()
app.use([audit_middleware(action="billing.webhook")])

SIGNATURE_DOC = "t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<raw body>' with the endpoint secret>"


REFUSED = (
    "Missing, invalid or stale Stripe-Signature (invalid_signature); a signed body that is not an event (invalid_event)"
)
RESPONSES = responses(WebhookAck, 415, 503, also={400: (REFUSED, ErrorResponse)})


@app.post("/billing/webhook", responses=RESPONSES)
def webhook(
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature", description=SIGNATURE_DOC)] = None,
) -> WebhookAck:
    event = app.current_event
    raw = event.body or ""
    if event.is_base64_encoded:
        raw = base64.b64decode(raw).decode("utf-8")
    signature = event.headers.get("Stripe-Signature") or event.headers.get("stripe-signature")
    result = billing_webhooks.receive(raw, signature, deps=app.context["deps"].webhook)
    app.context["audit_resource"] = f"stripe_event/{result.event_id}"
    return WebhookAck(event_id=result.event_id, type=result.type, outcome=result.outcome)


lambda_handler = api_handler(app, billing_webhook_deps)
