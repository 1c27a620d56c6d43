"""GET /ai/templates/{name}: one guided template's ordered questions (type, choices, default, unit, validation,
help); an unknown name is a 404 template_not_found."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from gpubroker.api.deps import ApiDeps
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import NoSettings
from gpubroker.domain.templates import NAME_MAX_LENGTH, Template, template_named
from gpubroker.wiring.edge import bare_deps

Settings = NoSettings
Deps = ApiDeps
app = new_resolver()


@app.get("/ai/templates/<name>", responses=responses(Template, 404))
def get_template(name: Annotated[str, Path(min_length=1, max_length=NAME_MAX_LENGTH)]) -> Template:
    return template_named(name)


lambda_handler = api_handler(app, bare_deps)
