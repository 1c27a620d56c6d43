"""GET /ai/conversations/{conversation_id} (signed in): one of the caller's assistant conversations, every stored
turn (another user's, an anonymous one, an expired or malformed id: 404)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from gpubroker.api.identity import require_user
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import ConversationSettings
from gpubroker.domain.chat import ConversationOut
from gpubroker.services.assistant.chat import get_conversation
from gpubroker.wiring.chat import ConversationDeps, conversation_deps

Settings = ConversationSettings
Deps = ConversationDeps
app = new_resolver()
ConversationIdPath = Annotated[str, Path(max_length=64, description="the chat's conversation_id (else: 404)")]


@app.get("/ai/conversations/<conversation_id>", responses=responses(ConversationOut, 401, 404))
def get_one(conversation_id: ConversationIdPath) -> ConversationOut:
    principal = require_user(app)
    return get_conversation(conversation_id, user_id=principal.user_id, store=app.context["deps"].conversations)


lambda_handler = api_handler(app, conversation_deps)
