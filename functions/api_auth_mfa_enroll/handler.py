"""POST /auth/mfa/enroll (signed in, with the account's password: step-up): a new TOTP secret, its otpauth URI and
QR code, and the challenge to confirm it.

MFA is on only after POST /auth/mfa/verify with that challenge and a code from the authenticator app.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.audit import audit_middleware
from gpubroker.api.auth_models import MfaEnrollment, PasswordProof
from gpubroker.api.identity import require_user
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import AuthSettings
from gpubroker.domain.mfa import CHALLENGE_TTL_S, qr_png_data_uri
from gpubroker.services import mfa
from gpubroker.wiring.auth import AuthApiDeps, auth_deps

Settings = AuthSettings
Deps = AuthApiDeps
app = new_resolver()
app.use([audit_middleware(action="auth.mfa.enroll")])


@app.post("/auth/mfa/enroll", responses=responses(MfaEnrollment, 401, 403, 409, 415))
def enroll(request: Annotated[PasswordProof, Body()]) -> Response[Any]:
    principal = require_user(app)
    started = mfa.enroll(principal.user_id, password=request.password, deps=app.context["deps"].auth)
    body = MfaEnrollment(secret=started.secret, otpauth_uri=started.otpauth_uri,
                         qr_png=qr_png_data_uri(started.otpauth_uri), challenge=started.challenge.challenge_id,
                         expires_in=CHALLENGE_TTL_S)  # fmt: skip
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body.model_dump(),
                    headers={"Cache-Control": "no-store"})  # fmt: skip


lambda_handler = api_handler(app, auth_deps)
