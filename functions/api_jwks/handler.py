"""GET /.well-known/jwks.json: the public keys that verify GPUBroker's tokens (retiring keys included)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from gpubroker.adapters.keyring import SecretsKeyRing
from gpubroker.api.auth_models import Jwks
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import JwksSettings, load_settings
from gpubroker.ports import KeyRingSource

Settings = JwksSettings
app = new_resolver()


@cache
def default_deps() -> KeyRingSource:
    return SecretsKeyRing(load_settings(JwksSettings).SIGNING_KEYS_SECRET_ID)


@app.get("/.well-known/jwks.json", responses=responses(Jwks))
def jwks() -> Response[Any]:
    keys: KeyRingSource = app.context["deps"]
    body = Jwks.model_validate(keys.ring().jwks()).model_dump()
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body,
                    headers={"Cache-Control": "public, max-age=300"})  # fmt: skip


lambda_handler = api_handler(app, default_deps)
