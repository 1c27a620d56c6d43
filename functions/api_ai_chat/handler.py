"""POST /ai/chat: one turn of the assistant. The engine (``ASSISTANT_ENGINE``: the rules dialogue, or a language
model's tool-use loop for signed-in callers within their plan's budget, falling back to the rules dialogue with
``fallback`` saying why) answers with text, recommendation cards and follow-up questions, acting through tools bound
to the caller (a bearer token names a signed-in caller on this public route; without one the caller is anonymous
and the conversation is kept one day). Never books: a booking is only drafted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.metrics import MetricUnit

from gpubroker.api.audit import audit_middleware
from gpubroker.api.chat_tools import ChatTools
from gpubroker.api.ratelimit import caller_of
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import ChatSettings
from gpubroker.domain.chat import ChatAnswer, ChatRequest
from gpubroker.domain.plans import plan_of
from gpubroker.observability import metrics
from gpubroker.services.assistant.chat import chat
from gpubroker.wiring.chat import ChatDeps, chat_deps

Settings = ChatSettings
Deps = ChatDeps
app = new_resolver()
app.use([audit_middleware(action="assistant.chat")])


@app.post("/ai/chat", responses=responses(ChatAnswer, 404, 415, 503))
def chat_route(request: Annotated[ChatRequest, Body()]) -> ChatAnswer:
    deps: Deps = app.context["deps"]
    caller = caller_of(app, deps.front_door.identity)
    user_id = caller.user_id if caller is not None else None
    app.append_context(audit_resource="/ai/chat")  # the conversation id stays out of the log
    answer = chat(request, user_id=user_id, plan=plan_of(caller.plan if caller else None), store=deps.conversations,
                  engine=deps.engine, tools_for=tools_of(deps), clock=deps.clock)  # fmt: skip
    if answer.fallback:  # a model engine's fallbacks by reason (an alarm can watch timeouts and errors)
        metrics.add_metric(name=f"AssistantChatFallback_{answer.fallback}", unit=MetricUnit.Count, value=1)
    return answer


def tools_of(deps: Deps) -> Callable[[str | None], ChatTools]:
    """The tools bound to one caller: the verified one the route passes, never a name from the message."""

    def bind(user_id: str | None) -> ChatTools:
        return ChatTools(snapshots=deps.snapshots, offer_math=deps.offer_math.get, offers=deps.offers,
                         history=deps.history, user_id=user_id)  # fmt: skip

    return bind


lambda_handler = api_handler(app, chat_deps)
