"""DELETE /ai/conversations/{conversation_id} (signed in): forget one of the caller's assistant conversations
(another user's, or one already gone: 404)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel

from gpubroker.api.audit import audit_middleware
from gpubroker.api.identity import require_user
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import ConversationDeleteSettings
from gpubroker.services.assistant.chat import delete_conversation
from gpubroker.wiring.chat import ConversationDeleteDeps, conversation_delete_deps

Settings = ConversationDeleteSettings
Deps = ConversationDeleteDeps
app = new_resolver()
app.use([audit_middleware(action="assistant.conversation.delete")])
ConversationIdPath = Annotated[str, Path(max_length=64, description="the chat's conversation_id (else: 404)")]


class ConversationDeleted(BaseModel):
    conversation_id: str
    deleted: bool = True


@app.delete("/ai/conversations/<conversation_id>", responses=responses(ConversationDeleted, 401, 404))
def delete_one(conversation_id: ConversationIdPath) -> ConversationDeleted:
    principal = require_user(app)
    app.append_context(audit_resource="conversation")  # never the id: it is the anonymous chats' only key
    delete_conversation(conversation_id, user_id=principal.user_id, store=app.context["deps"].conversations)
    return ConversationDeleted(conversation_id=conversation_id)


lambda_handler = api_handler(app, conversation_delete_deps)
