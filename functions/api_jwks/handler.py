"""GET /.well-known/jwks.json: the public keys that verify GPUBroker's tokens (retiring and upcoming keys included),
as the signers published them; this function cannot read a private key."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from gpubroker.api.auth_models import Jwks
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import JwksSettings
from gpubroker.wiring.auth import JwksDeps, jwks_deps

Settings = JwksSettings
Deps = JwksDeps
app = new_resolver()


@app.get("/.well-known/jwks.json", responses=responses(Jwks))
def jwks() -> Response[Any]:
    deps: Deps = app.context["deps"]
    body = Jwks.model_validate(deps.keys.jwks()).model_dump()
    # an empty set (no login has bootstrapped the signing key yet) is never cached: the next answer may hold a key
    cache = "public, max-age=300" if body["keys"] else "no-store"
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body,
                    headers={"Cache-Control": cache})  # fmt: skip


lambda_handler = api_handler(app, jwks_deps)
