"""The assistant chat (``POST /ai/chat``) and its conversation routes: the conversation store, the rules dialogue
engine and the ports its tools read (the live offers, the offers table, price history).

The tools are bound to the caller in the handler (``gpubroker.api.chat_tools.ChatTools`` computes with NumPy, which
this module must not import). The engine (``ChatDeps.engine``) is ``ASSISTANT_ENGINE``'s: the rules dialogue, or
the language model's tool-use loop (``services.assistant.chat_llm.LlmDialogue``) behind the breaker and budget it
shares with ``POST /ai/parse-workload`` (``wiring.assistant_llm.llm_engine``), the rules dialogue its fallback."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from gpubroker.api.deps import ApiDeps, AuditedApiDeps
from gpubroker.config import ChatSettings, ConversationDeleteSettings, ConversationSettings, load_settings
from gpubroker.wiring import edge

if TYPE_CHECKING:
    from gpubroker.ports import Clock, ConversationStore, OfferRepository, PriceHistoryReader
    from gpubroker.services.assistant.dialogue import DialogueEngine
    from gpubroker.services.offer_math import OfferMathCache
    from gpubroker.services.search import SnapshotCache


@dataclass(frozen=True, kw_only=True)
class ConversationDeps(ApiDeps):
    conversations: ConversationStore


@cache
def conversation_deps() -> ConversationDeps:
    from gpubroker.adapters.conversations import DynamoConversationStore

    table = load_settings(ConversationSettings).CONVERSATIONS_TABLE
    return ConversationDeps(conversations=DynamoConversationStore(table), front_door=edge.front_door())


@dataclass(frozen=True, kw_only=True)
class ConversationDeleteDeps(AuditedApiDeps):
    conversations: ConversationStore


@cache
def conversation_delete_deps() -> ConversationDeleteDeps:
    from gpubroker.adapters.conversations import DynamoConversationStore

    table = load_settings(ConversationDeleteSettings).CONVERSATIONS_TABLE
    return ConversationDeleteDeps(conversations=DynamoConversationStore(table), front_door=edge.front_door(),
                                  audit=edge.audit_trail())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ChatDeps(ConversationDeleteDeps):
    snapshots: SnapshotCache
    offer_math: OfferMathCache
    offers: OfferRepository
    history: PriceHistoryReader
    clock: Clock
    engine: DialogueEngine


@cache
def chat_deps() -> ChatDeps:
    from gpubroker.adapters.conversations import DynamoConversationStore
    from gpubroker.adapters.dynamodb import DynamoOfferRepository, DynamoPriceHistoryRepository
    from gpubroker.services.offer_math import OfferMathCache

    s = load_settings(ChatSettings)
    snapshots = edge.snapshot_cache(s.SNAPSHOT_BUCKET, s.SNAPSHOT_TTL_SECONDS)
    return ChatDeps(
        conversations=DynamoConversationStore(s.CONVERSATIONS_TABLE),
        snapshots=snapshots,
        offer_math=OfferMathCache(snapshots.current),
        offers=DynamoOfferRepository(s.OFFERS_TABLE),
        history=DynamoPriceHistoryRepository(s.PRICE_HISTORY_TABLE),
        clock=edge.system_clock(),
        engine=dialogue_engine(),
        front_door=edge.front_door(),
        audit=edge.audit_trail(),
    )


def dialogue_engine() -> DialogueEngine:
    """The rules dialogue, or (``ASSISTANT_ENGINE`` bedrock/openai) the model's tool-use loop falling back to it."""
    from gpubroker.services.assistant.dialogue import RulesDialogue
    from gpubroker.wiring.assistant_llm import llm_engine

    llm = llm_engine()
    if llm is None:
        return RulesDialogue()
    from gpubroker.services.assistant.chat_llm import LlmDialogue

    return LlmDialogue(llm, rules=RulesDialogue())
