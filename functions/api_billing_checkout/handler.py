"""POST /billing/checkout (signed in, verified email): a Stripe Checkout Session to change plan (pro, enterprise).

201 ``{"session_id", "url"}``: open the URL to pay (locally, the local Stripe server's pay page). The plan changes
when Stripe's webhook arrives (POST /billing/webhook), and the new rate limit applies from the next token refresh.
The same user, plan and UTC day get the same session back (services/billing_checkout.py). Audited as
``billing.checkout`` on ``plan/<plan>``."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.audit import audit_middleware
from gpubroker.api.billing_models import CheckoutRequest, CheckoutSession
from gpubroker.api.errors import ErrorResponse
from gpubroker.api.identity import require_verified_email
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import BillingCheckoutSettings
from gpubroker.services.billing_checkout import checkout_plan
from gpubroker.wiring.billing import BillingCheckoutApiDeps, billing_checkout_deps

Settings = BillingCheckoutSettings
Deps = BillingCheckoutApiDeps
app = new_resolver()
app.use([audit_middleware(action="billing.checkout")])

RESPONSES = responses(CheckoutSession, 401, 403, 415, ok_status=201, also={
    402: ("Stripe refused the request (payment_declined)", ErrorResponse),
    503: ("Stripe is unreachable or not set up (payments_unavailable, unavailable): retry later", ErrorResponse),
})  # fmt: skip


@app.post("/billing/checkout", responses=RESPONSES)
def checkout(request: Annotated[CheckoutRequest, Body()]) -> tuple[CheckoutSession, int]:
    principal = require_verified_email(app)
    app.append_context(audit_resource=f"plan/{request.plan}")
    deps: Deps = app.context["deps"]
    made = checkout_plan(principal.user_id, request.plan, payments=deps.payments, users=deps.users,
                         now=deps.clock.now())  # fmt: skip
    return CheckoutSession(session_id=made.session_id, url=made.url), 201


lambda_handler = api_handler(app, billing_checkout_deps)
