"""What the audit log's readers answer (``services.audit.verify_log`` and ``list_entries``).

Apart from ``domain.audit`` because every audited function imports that (through the audit middleware), and only
the two admin routes need these models: they are not built at the others' cold start.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from gpubroker.domain.audit import AuditEntry


class ShardReport(BaseModel):
    """One shard against its newest checkpoint: ``size`` entries stored, ``checkpoint_size`` of them signed."""

    shard: int
    ok: bool
    size: int = Field(description="entries stored in the shard")
    checkpoint_size: int | None = Field(description="entries covered by the newest signed checkpoint")
    first_broken_seq: int | None
    reason: str | None


class AuditVerifyReport(BaseModel):
    """Every shard (the body of ``GET /audit/verify``); ``first_broken_seq`` / ``first_broken_shard`` name the
    lowest-numbered broken shard's first bad seq (seqs of different shards are not comparable)."""

    ok: bool
    shards: list[ShardReport]
    first_broken_seq: int | None = Field(description="the first bad sequence number of the first broken shard")
    first_broken_shard: int | None


class EntryPage(BaseModel):
    """A page of entries, shard 0 first then by seq; ``next_cursor`` None when every shard has been read."""

    items: list[AuditEntry]
    next_cursor: str | None
