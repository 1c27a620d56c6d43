"""POST /auth/verify-email/send (signed in): mail a new email-verification link (24 h) to the account's address.

202 once the mail is handed to SES; 409 when the address is verified already; 429 past 5 mails an hour."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from gpubroker.api.audit import audit_middleware
from gpubroker.api.auth_models import VerificationSent
from gpubroker.api.identity import require_user
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import AccountMailSettings
from gpubroker.services import accounts
from gpubroker.wiring.auth import AuthApiDeps, account_mail_deps

Settings = AccountMailSettings
Deps = AuthApiDeps
app = new_resolver()
app.use([audit_middleware(action="auth.verify_email.send")])


@app.post("/auth/verify-email/send", responses=responses(VerificationSent, 401, 409, 503, ok_status=202))
def send() -> Response[Any]:
    principal = require_user(app)
    app.append_context(audit_resource=f"user/{principal.user_id}")
    accounts.send_verification(principal.user_id, deps=app.context["deps"].auth)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=VerificationSent().model_dump())


lambda_handler = api_handler(app, account_mail_deps)
