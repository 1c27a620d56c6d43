"""POST /auth/password/forgot (public): mail a single-use password-reset link (1 h) if the email has an account.

Always 202, in no less than a second, whatever the email (no enumeration; services/accounts.py); 429 past the
per-address and per-IP throttles, for any address alike."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.audit import audit_middleware
from gpubroker.api.auth_models import Accepted, EmailOnly
from gpubroker.api.client_ip import request_ip
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import AccountMailSettings
from gpubroker.services import accounts
from gpubroker.wiring.auth import AuthApiDeps, account_mail_deps

Settings = AccountMailSettings
Deps = AuthApiDeps
app = new_resolver()
app.use([audit_middleware(action="auth.password.forgot")])


@app.post("/auth/password/forgot", responses=responses(Accepted, 415, ok_status=202))
def forgot(request: Annotated[EmailOnly, Body()]) -> tuple[Accepted, int]:
    ip = request_ip(app)  # behind the web app's CloudFront: the viewer's (api.client_ip)
    accounts.forgot_password(request.email, ip=ip, deps=app.context["deps"].auth)
    return Accepted(status="accepted"), 202


lambda_handler = api_handler(app, account_mail_deps)
