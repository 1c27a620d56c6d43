"""GET /ai/templates: the assistant's guided templates (name, title, description, number of questions)."""

from __future__ import annotations

from gpubroker.api.deps import ApiDeps
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import NoSettings
from gpubroker.domain.templates import TemplateList, templates
from gpubroker.wiring.edge import bare_deps

Settings = NoSettings
Deps = ApiDeps
app = new_resolver()


@app.get("/ai/templates", responses=responses(TemplateList))
def list_templates() -> TemplateList:
    return TemplateList(templates=[t.summary() for t in templates().values()])


lambda_handler = api_handler(app, bare_deps)
