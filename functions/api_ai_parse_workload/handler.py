"""POST /ai/parse-workload: plain words -> the workload spec (each field with a confidence), the
/math/map-workload-to-gpu request built from it, and what is still missing.

The engine is the configuration's (``ASSISTANT_ENGINE``): ``rules`` (deterministic, no I/O), or a language model
(``bedrock``, ``openai``) for signed-in callers within their plan's daily budget, falling back to the rules
engine (``fallback`` in the answer) on anonymous callers, a spent budget, an open breaker, a timeout, an error or
an invalid answer (``gpubroker.services.assistant.parse_llm``)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.metrics import MetricUnit

from gpubroker.api.ratelimit import principal_of
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import AssistantSettings
from gpubroker.domain.workload_spec import ParseAnswer, ParseRequest
from gpubroker.observability import metrics
from gpubroker.services.assistant import parse_workload
from gpubroker.wiring.assistant_llm import ParseDeps, parse_deps

Settings = AssistantSettings
Deps = ParseDeps
app = new_resolver()


@app.post("/ai/parse-workload", responses=responses(ParseAnswer, 415))
def parse_workload_route(request: Annotated[ParseRequest, Body()]) -> ParseAnswer:
    deps: ParseDeps = app.context["deps"]
    if deps.llm is None:
        return parse_workload(request.text)
    from gpubroker.services.assistant.llm_engine import Caller
    from gpubroker.services.assistant.parse_llm import parse_workload_llm

    principal, plan = principal_of(app, deps.front_door.identity)
    caller = Caller(principal.removeprefix("user:"), plan) if principal.startswith("user:") else None
    answer = parse_workload_llm(request.text, caller, deps.llm)
    # one count per answer: the model's, or a fallback by reason (an alarm can watch timeouts and errors)
    metrics.add_metric(name=f"AssistantFallback_{answer.fallback}" if answer.fallback else "AssistantModelAnswer",
                       unit=MetricUnit.Count, value=1)  # fmt: skip
    return answer


lambda_handler = api_handler(app, parse_deps)
