"""POST /auth/register: create an account and mail its address a verification link (24 h). The answer (and the
work: one mail, a note to the owner when the address has an account already) is the same whether the email was new
or taken."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.audit import audit_middleware
from gpubroker.api.auth_models import Accepted, Credentials
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import AccountMailSettings
from gpubroker.services import auth
from gpubroker.wiring.auth import AuthApiDeps, account_mail_deps

Settings = AccountMailSettings
Deps = AuthApiDeps
app = new_resolver()
app.use([audit_middleware(action="auth.register")])


@app.post("/auth/register", responses=responses(Accepted, 415, ok_status=202))
def register(request: Annotated[Credentials, Body()]) -> tuple[Accepted, int]:
    auth.register(request.email, request.password, deps=app.context["deps"].auth)
    return Accepted(status="accepted"), 202


lambda_handler = api_handler(app, account_mail_deps)
