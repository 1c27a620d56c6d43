"""In-memory audit log and a local Ed25519 checkpoint signer: the same shape as DynamoAuditLog and
KmsCheckpointSigner (services.audit's AuditLog / CheckpointSigner Protocols), for fast unit tests."""

from __future__ import annotations

import hashlib
import threading
from bisect import bisect_right
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gpubroker.domain.audit import (
    AUDIT_SHARDS,
    ArchivedCheckpoint,
    AuditEntry,
    EntryFilter,
    EntrySearch,
    SignedCheckpoint,
    next_entry,
    shard_for,
    stamp,
)


class MemoryAuditLog:
    """Entries per shard in seq order (as a DynamoDB Query returns them); checkpoints per shard by size.

    ``stored`` / ``restore`` expose the raw lists so tests can tamper with them as an attacker with write access
    to the table would.
    """

    def __init__(self, shards: int = AUDIT_SHARDS) -> None:
        self.shards = shards
        self._entries: dict[int, list[AuditEntry]] = {n: [] for n in range(shards)}
        self._checkpoints: dict[int, dict[int, SignedCheckpoint]] = {n: {} for n in range(shards)}
        self._lock = threading.Lock()

    def append(
        self,
        actor: str,
        action: str,
        resource: str,
        request_id: str,
        outcome: str,
        ts: str | datetime | None = None,
    ) -> AuditEntry:
        shard = shard_for(resource, self.shards)
        with self._lock:
            chain = self._entries[shard]
            entry = next_entry(chain[-1] if chain else None, shard, stamp(ts), actor, action, resource, request_id,
                               outcome)  # fmt: skip
            chain.append(entry)
            return entry

    def head(self, shard: int) -> AuditEntry | None:
        chain = self._entries[shard]
        return chain[-1] if chain else None

    def entries(self, shard: int, *, after_seq: int | None = None, limit: int = 100) -> list[AuditEntry]:
        chain = sorted(self._entries[shard], key=lambda e: e.seq)  # a Query returns range-key order
        start = 0 if after_seq is None else bisect_right([e.seq for e in chain], after_seq)
        return chain[start : start + max(limit, 0)]

    def all_entries(self, shard: int) -> list[AuditEntry]:
        return list(self._entries[shard])

    def search(
        self, shard: int, where: EntryFilter, *, after_seq: int | None = None, limit: int = 100, budget: int = 5000
    ) -> EntrySearch:
        """DynamoAuditLog.search's semantics: read at most ``budget`` entries, return at most ``limit`` matches."""
        window = self.entries(shard, after_seq=after_seq, limit=max(budget, 1))
        out: list[AuditEntry] = []
        for read, entry in enumerate(window, 1):
            if where.matches(entry):
                out.append(entry)
                if len(out) == limit:
                    return EntrySearch(out, entry.seq, False, read)
        done = len(window) < max(budget, 1)
        after = window[-1].seq if window else after_seq
        return EntrySearch(out, after, done, len(window))

    def put_checkpoint(self, signed: SignedCheckpoint) -> bool:
        with self._lock:
            slot = self._checkpoints[signed.checkpoint.shard]
            if signed.checkpoint.size in slot:
                return False
            slot[signed.checkpoint.size] = signed
            return True

    def latest_checkpoint(self, shard: int) -> SignedCheckpoint | None:
        slot = self._checkpoints[shard]
        return slot[max(slot)] if slot else None

    def recent_checkpoints(self, shard: int, n: int = 2) -> list[SignedCheckpoint]:
        slot = self._checkpoints[shard]
        return [slot[size] for size in sorted(slot, reverse=True)[:n]]

    def checkpoints(self, shard: int, *, after_size: int, upto_size: int, limit: int = 1000) -> list[SignedCheckpoint]:
        slot = self._checkpoints[shard]
        return [slot[size] for size in sorted(slot) if after_size < size <= upto_size][:limit]

    # test hooks: what an attacker with table write access can do
    def stored(self, shard: int) -> list[AuditEntry]:
        return list(self._entries[shard])

    def restore(self, shard: int, entries: list[AuditEntry]) -> None:
        self._entries[shard] = list(entries)

    def replace_checkpoint(self, signed: SignedCheckpoint) -> None:
        self._checkpoints[signed.checkpoint.shard][signed.checkpoint.size] = signed

    def delete_checkpoint(self, shard: int, size: int) -> None:
        del self._checkpoints[shard][size]


class MemoryMarker:
    """The rolling verification's marker (``VerifyMarker``) in memory."""

    def __init__(self) -> None:
        self.cursor: str | None = None
        self.saves = 0

    def load_marker(self) -> str | None:
        return self.cursor

    def save_marker(self, cursor: str | None) -> None:
        self.cursor, self.saves = cursor, self.saves + 1


class MemoryArchive:
    """The checkpoint archive (``CheckpointArchive``) with Object Lock's semantics: every publish adds a version,
    nothing is ever removed."""

    def __init__(self) -> None:
        self.versions: dict[tuple[int, int], list[SignedCheckpoint | None]] = {}

    def publish(self, signed: SignedCheckpoint) -> None:
        self.versions.setdefault((signed.checkpoint.shard, signed.checkpoint.size), []).append(signed)

    def versions_from(self, shard: int, size: int, limit: int = 20) -> list[ArchivedCheckpoint]:
        keys = sorted(k for k in self.versions if k[0] == shard and k[1] >= size)
        return [ArchivedCheckpoint(k[1], v) for k in keys for v in self.versions[k]][:limit]


class FailingLog(MemoryAuditLog):
    """An audit log whose every append fails, as when DynamoDB is unreachable."""

    def append(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("DynamoDB is unreachable")


class LocalSigner:
    """Ed25519 in process: stands in for the KMS key in unit tests."""

    def __init__(self, key: Ed25519PrivateKey | None = None) -> None:
        self._key = key or Ed25519PrivateKey.generate()
        public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = "local-ed25519:" + hashlib.sha256(public).hexdigest()[:16]

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.public_key().verify(signature, message)
        except InvalidSignature:
            return False
        return True


class MemorySpool:
    """The audit spool in memory (``AuditSpool``): what ``put`` adds, ``take`` hands out once until ``done``."""

    def __init__(self, *, fail: bool = False) -> None:
        self.messages: dict[str, Any] = {}
        self.taken: set[str] = set()
        self.fail = fail
        self._n = 0

    def put(self, entry: Any) -> None:
        if self.fail:
            raise RuntimeError("SQS is unreachable")
        self._n += 1
        self.messages[f"r{self._n}"] = entry

    def take(self, max_n: int = 10) -> list[tuple[Any, str]]:
        out = [(m, r) for r, m in self.messages.items() if r not in self.taken][:max_n]
        self.taken.update(r for _, r in out)
        return out

    def done(self, receipt: str) -> None:
        del self.messages[receipt]
