"""POST /ai/parse-workload: plain words -> the workload spec (each field with a confidence), the
/math/map-workload-to-gpu request built from it, and what is still missing. The rules engine: deterministic, no
language model, no I/O."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.deps import ApiDeps
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import NoSettings
from gpubroker.domain.workload_spec import ParseAnswer, ParseRequest
from gpubroker.services.assistant import parse_workload
from gpubroker.wiring.edge import bare_deps

Settings = NoSettings
Deps = ApiDeps
app = new_resolver()


@app.post("/ai/parse-workload", responses=responses(ParseAnswer, 415))
def parse_workload_route(request: Annotated[ParseRequest, Body()]) -> ParseAnswer:
    return parse_workload(request.text)


lambda_handler = api_handler(app, bare_deps)
