"""``POST /ai/chat`` and the conversation routes: the conversation's last turns and slots in, the engine's reply
out, both turns stored.

Who owns a conversation: a signed-in caller's conversations are kept 30 days under ``user:<id>``; an anonymous
caller's under ``anon``, one day, reachable only by its unguessable id (128 random bits) and only through the chat
itself (the conversation routes are signed-in only). An id that belongs to another owner finds nothing: a new
conversation starts (chat) or the answer is 404 (conversation routes).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from gpubroker.domain.chat import (
    ANONYMOUS_TTL_DAYS,
    CONTEXT_TURNS,
    CONVERSATION_TTL_DAYS,
    MAX_ANSWER_CHARS,
    MAX_CARDS,
    MAX_FOLLOW_UPS,
    ChatAnswer,
    ChatRequest,
    ConversationOut,
    Turn,
)
from gpubroker.domain.errors import ConversationNotFound
from gpubroker.domain.plans import Plan

if TYPE_CHECKING:  # the engine's module is NumPy-free, but the conversation routes need none of it
    from gpubroker.ports import Clock, ConversationStore
    from gpubroker.services.assistant.dialogue import DialogueEngine, Tools

ANONYMOUS = "anon"
STORED_TURN_CHARS = 8000


def owner_of(user_id: str | None) -> str:
    return f"user:{user_id}" if user_id else ANONYMOUS


def new_conversation_id() -> str:
    return secrets.token_urlsafe(16)  # 22 characters, 128 random bits


def cap(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def chat(
    request: ChatRequest,
    *,
    user_id: str | None,
    store: ConversationStore,
    engine: DialogueEngine,
    tools_for: Callable[[str | None], Tools],
    clock: Clock,
    new_id: Callable[[], str] = new_conversation_id,
    plan: Plan = Plan.FREE,
) -> ChatAnswer:
    """One turn. ``user_id``: the verified caller (None: anonymous) and ``plan`` theirs (a model engine's daily
    budget); ``tools_for`` binds the tools to them."""
    from gpubroker.services.assistant.llm_engine import Caller

    owner = owner_of(user_id)
    cid = request.conversation_id
    history = store.recent(owner, cid, CONTEXT_TURNS) if cid else []
    if not history or cid is None:  # none yet, expired, or another owner's: a fresh id (a client never chooses one)
        cid = new_id()
    slots = history[-1].slots if history else {}
    reply = engine.reply(request.message, history=history, slots=slots, context=request.context,
                         tools=tools_for(user_id), caller=Caller(user_id, plan) if user_id else None)  # fmt: skip
    text = cap(reply.text)
    cards = reply.cards[:MAX_CARDS]
    now = clock.now()
    seq = history[-1].seq + 1 if history else 0
    days = CONVERSATION_TTL_DAYS if user_id else ANONYMOUS_TTL_DAYS
    turns = [
        Turn(seq=seq, role="user", text=cap(request.message, STORED_TURN_CHARS), at=now.isoformat()),
        Turn(seq=seq + 1, role="assistant", text=text, cards=cards, slots=reply.slots, at=now.isoformat()),
    ]
    store.append(owner, cid, turns, expires_at=expires_at(now, days))
    return ChatAnswer(
        text=text,
        cards=cards,
        follow_up=reply.follow_up[:MAX_FOLLOW_UPS],
        engine=reply.engine or engine.name,
        conversation_id=cid,
        intent=reply.intent,
        draft_booking=reply.draft,
        fallback=reply.fallback,
        persisted=user_id is not None,
    )


def expires_at(now: datetime, days: int) -> int:
    return int((now + timedelta(days=days)).timestamp())


def get_conversation(conversation_id: str, *, user_id: str, store: ConversationStore) -> ConversationOut:
    turns = store.turns(owner_of(user_id), conversation_id)
    if not turns:
        raise ConversationNotFound("no such conversation")
    return ConversationOut(conversation_id=conversation_id, turns=turns)


def delete_conversation(conversation_id: str, *, user_id: str, store: ConversationStore) -> None:
    if store.delete(owner_of(user_id), conversation_id) == 0:
        raise ConversationNotFound("no such conversation")
