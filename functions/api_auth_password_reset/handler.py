"""POST /auth/password/reset (public): the token of a mailed reset link and a new password.

The link works once (a conditional write on its id) and only if it is the newest; every session of the account is
revoked. A forged, expired, used or superseded token: 400 ``invalid_link`` (the reason in the audit entry only)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.audit import audit_middleware
from gpubroker.api.auth_models import PasswordChanged, PasswordReset
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import AuthSettings
from gpubroker.services import accounts
from gpubroker.wiring.auth import AuthApiDeps, auth_deps

Settings = AuthSettings
Deps = AuthApiDeps
app = new_resolver()
app.use([audit_middleware(action="auth.password.reset")])


@app.post("/auth/password/reset", responses=responses(PasswordChanged, 415))
def reset(request: Annotated[PasswordReset, Body()]) -> PasswordChanged:
    user_id = accounts.reset_password(request.token, request.password, deps=app.context["deps"].auth)
    app.append_context(audit_resource=f"user/{user_id}")
    return PasswordChanged()


lambda_handler = api_handler(app, auth_deps)
