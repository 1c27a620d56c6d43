"""POST /auth/verify-email (public): the token of a mailed verification link marks the account's address verified.

Idempotent (a second use answers the same). A forged, expired or foreign token: 400 ``invalid_link``, one message
whatever the reason (the reason is in the audit entry). The session shows it from its next refresh on."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.audit import audit_middleware
from gpubroker.api.auth_models import EmailVerified, LinkToken
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import AuthSettings
from gpubroker.services import accounts
from gpubroker.wiring.auth import AuthApiDeps, auth_deps

Settings = AuthSettings
Deps = AuthApiDeps
app = new_resolver()
app.use([audit_middleware(action="auth.verify_email")])


@app.post("/auth/verify-email", responses=responses(EmailVerified, 415))
def verify(request: Annotated[LinkToken, Body()]) -> EmailVerified:
    user_id = accounts.verify_email(request.token, deps=app.context["deps"].auth)
    app.append_context(audit_resource=f"user/{user_id}")
    return EmailVerified()


lambda_handler = api_handler(app, auth_deps)
