"""POST /ai/templates/{name}/answers: a guided template's answers, validated (422 naming the question and the
rule), as the parser's workload spec, the /math/map-workload-to-gpu request, and its mapping (GPUs that fit, with
time and cost per GPU) from the live offers."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import SnapshotSettings
from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.templates import NAME_MAX_LENGTH, AnswersRequest, template_named
from gpubroker.services.assistant.templates import TemplateAnswer, answer_template
from gpubroker.services.offer_math import prices_by_gpu
from gpubroker.wiring.math import MathDeps, math_deps

Settings = SnapshotSettings
Deps = MathDeps
app = new_resolver()


@app.post("/ai/templates/<name>/answers", responses=responses(TemplateAnswer, 404, 503, 415))
def template_answers(
    name: Annotated[str, Path(min_length=1, max_length=NAME_MAX_LENGTH)],
    request: Annotated[AnswersRequest, Body()],
) -> TemplateAnswer:
    template = template_named(name)
    deps: MathDeps = app.context["deps"]
    offers = deps.offers.get()
    return answer_template(template, request.answers, specs=bundled_catalog().gpus,
                           prices_in=lambda region: prices_by_gpu(offers, region=region))  # fmt: skip


lambda_handler = api_handler(app, math_deps)
