"""POST /auth/login: email and password -> access and refresh tokens, and the fingerprint cookie they are bound to.

With MFA on, no token yet: 202 with a short-lived challenge to complete at POST /auth/mfa/verify.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.audit import audit_middleware
from gpubroker.api.auth_models import Credentials, MfaRequired, Tokens
from gpubroker.api.client_ip import request_ip
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.api.sessions import session_response
from gpubroker.config import AuthSettings
from gpubroker.domain.mfa import CHALLENGE_TTL_S
from gpubroker.services import auth
from gpubroker.wiring.auth import AuthApiDeps, auth_deps

Settings = AuthSettings
Deps = AuthApiDeps
app = new_resolver()
app.use([audit_middleware(action="auth.login")])

RESPONSES = responses(Tokens, 401, 415, 429, also={
    202: ("MFA is on: no tokens yet; send a code with this challenge to POST /auth/mfa/verify", MfaRequired),
})  # fmt: skip


@app.post("/auth/login", responses=RESPONSES)
def login(request: Annotated[Credentials, Body()]) -> Response[Any]:
    ip = request_ip(app)  # behind the web app's CloudFront: the viewer's (api.client_ip)
    result = auth.login(request.email, request.password, ip=ip, deps=app.context["deps"].auth)
    if isinstance(result, auth.Session):
        return session_response(result)
    body = MfaRequired(challenge=result.challenge_id, expires_in=CHALLENGE_TTL_S)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=body.model_dump(),
                    headers={"Cache-Control": "no-store"})  # fmt: skip


lambda_handler = api_handler(app, auth_deps)
