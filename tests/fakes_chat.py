"""In-memory fakes of the assistant chat's ports: the conversation store (keyed by owner and id, like the table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from gpubroker.domain.chat import Turn


@dataclass
class MemoryConversationStore:
    items: dict[tuple[str, str], list[Turn]] = field(default_factory=dict)
    expiry: dict[tuple[str, str], int] = field(default_factory=dict)

    def recent(self, owner: str, conversation_id: str, limit: int) -> list[Turn]:
        return list(self.items.get((owner, conversation_id), [])[-limit:])

    def turns(self, owner: str, conversation_id: str) -> list[Turn]:
        return list(self.items.get((owner, conversation_id), []))

    def append(self, owner: str, conversation_id: str, turns: Sequence[Turn], *, expires_at: int) -> None:
        self.items.setdefault((owner, conversation_id), []).extend(turns)
        self.expiry[(owner, conversation_id)] = expires_at

    def delete(self, owner: str, conversation_id: str) -> int:
        return len(self.items.pop((owner, conversation_id), []))
