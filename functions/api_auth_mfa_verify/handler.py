"""POST /auth/mfa/verify (public): a challenge and a code. An ``enroll`` challenge and a right TOTP code turn MFA on
(200 with the recovery codes, shown once); a ``login`` challenge and a right TOTP or unused recovery code complete
the login (200 with the tokens and the fingerprint cookie, as POST /auth/login without MFA)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.audit import audit_middleware
from gpubroker.api.auth_models import MfaEnabled, MfaVerifyRequest, Tokens
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.api.sessions import session_response
from gpubroker.config import AuthSettings
from gpubroker.services import mfa
from gpubroker.services.auth import Session
from gpubroker.wiring.auth import AuthApiDeps, auth_deps

Settings = AuthSettings
Deps = AuthApiDeps
app = new_resolver()
app.use([audit_middleware(action="auth.mfa.verify")])

RESPONSES = responses(Tokens, 401, 409, 415, 429, also={
    200: ("Login completed (tokens, fingerprint cookie) or MFA enabled (recovery codes)", Tokens | MfaEnabled),
})  # fmt: skip


@app.post("/auth/mfa/verify", responses=RESPONSES)
def verify(request: Annotated[MfaVerifyRequest, Body()]) -> Response[Any]:
    result = mfa.verify(request.challenge, request.code, deps=app.context["deps"].auth)
    if isinstance(result, Session):
        return session_response(result)
    body = MfaEnabled(recovery_codes=list(result.recovery_codes))
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body.model_dump(),
                    headers={"Cache-Control": "no-store"})  # fmt: skip


lambda_handler = api_handler(app, auth_deps)
