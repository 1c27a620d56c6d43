"""GET /.well-known/jwks.json: the public keys that verify GPUBroker's tokens (retiring and upcoming keys included),
as the signers published them; this function cannot read a private key."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from gpubroker.adapters.keyring import ParameterPublicKeys
from gpubroker.api.auth_models import Jwks
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import JwksSettings, load_settings
from gpubroker.ports import PublishedKeySource

Settings = JwksSettings
app = new_resolver()


@cache
def default_deps() -> PublishedKeySource:
    return ParameterPublicKeys(load_settings(JwksSettings).PUBLIC_KEYS_PARAMETER)


@app.get("/.well-known/jwks.json", responses=responses(Jwks))
def jwks() -> Response[Any]:
    keys: PublishedKeySource = app.context["deps"]
    body = Jwks.model_validate(keys.jwks()).model_dump()
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body,
                    headers={"Cache-Control": "public, max-age=300"})  # fmt: skip


lambda_handler = api_handler(app, default_deps)
