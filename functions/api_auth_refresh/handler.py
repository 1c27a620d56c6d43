"""POST /auth/refresh: spend a refresh token (with its fingerprint cookie) for a new pair; reuse revokes the family."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.audit import audit_middleware
from gpubroker.api.auth_models import RefreshRequest, Tokens
from gpubroker.api.cookies import fingerprint_from
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.api.sessions import session_response
from gpubroker.config import AuthSettings
from gpubroker.services import auth
from gpubroker.wiring.auth import AuthApiDeps, auth_deps

Settings = AuthSettings
Deps = AuthApiDeps
app = new_resolver()
app.use([audit_middleware(action="auth.refresh")])


@app.post("/auth/refresh", responses=responses(Tokens, 401, 415))
def refresh(request: Annotated[RefreshRequest, Body()]) -> Response[Any]:
    fingerprint = fingerprint_from(app.current_event.headers)
    return session_response(auth.refresh(request.refresh_token, fingerprint=fingerprint, deps=app.context["deps"].auth))


lambda_handler = api_handler(app, auth_deps)
