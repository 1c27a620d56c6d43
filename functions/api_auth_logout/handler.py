"""POST /auth/logout: revoke the session (the refresh token's whole family) and clear the fingerprint cookie."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.audit import audit_middleware
from gpubroker.api.auth_models import LoggedOut, RefreshRequest
from gpubroker.api.cookies import cleared_cookie, fingerprint_from
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import AuthSettings
from gpubroker.services import auth
from gpubroker.wiring.auth import AuthApiDeps, auth_deps

Settings = AuthSettings
Deps = AuthApiDeps
app = new_resolver()
app.use([audit_middleware(action="auth.logout")])


@app.post("/auth/logout", responses=responses(LoggedOut, 401, 415))
def logout(request: Annotated[RefreshRequest, Body()]) -> Response[Any]:
    fingerprint = fingerprint_from(app.current_event.headers)
    auth.logout(request.refresh_token, fingerprint=fingerprint, deps=app.context["deps"].auth)
    return Response(status_code=200, content_type="application/json", body={"status": "logged_out"},
                    cookies=[cleared_cookie()])  # fmt: skip


lambda_handler = api_handler(app, auth_deps)
