"""POST /auth/login: email and password -> access and refresh tokens, and the fingerprint cookie they are bound to."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.auth_models import Credentials, Tokens
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.api.sessions import session_response
from gpubroker.config import AuthSettings
from gpubroker.services import auth
from gpubroker.wiring import auth_deps

Settings = AuthSettings
app = new_resolver()


@app.post("/auth/login", responses=responses(Tokens, 401, 415, 429))
def login(request: Annotated[Credentials, Body()]) -> Response[Any]:
    ip = app.current_event.request_context.identity.source_ip or "unknown"
    return session_response(auth.login(request.email, request.password, ip=ip, deps=app.context["deps"]))


lambda_handler = api_handler(app, auth_deps)
