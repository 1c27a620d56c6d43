"""GET /openapi.json: the OpenAPI document of every route, generated from the functions' own resolvers and the
template (``python -m infra.openapi``; ``make build`` writes it beside this handler, the local stack afresh)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import OpenApiSettings
from gpubroker.wiring.openapi import OpenApiDeps, openapi_deps

Settings = OpenApiSettings
Deps = OpenApiDeps
app = new_resolver()


@app.get("/openapi.json", responses=responses(dict[str, Any]))
def openapi_document() -> Response[str]:
    deps: Deps = app.context["deps"]
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=deps.document,
                    headers={"Cache-Control": "public, max-age=300"})  # fmt: skip


lambda_handler = api_handler(app, partial(openapi_deps, Path(__file__).parent))
