"""What the audit log's readers answer (``services.audit.verify_log`` and ``list_entries``).

Apart from ``domain.audit`` because every audited function imports that (through the audit middleware), and only
the two admin routes need these models: they are not built at the others' cold start.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpubroker.domain.audit import AuditEntry

VerifyMode = Literal["incremental", "genesis"]
_HEX64 = r"^[0-9a-f]{64}$"
_MAX_SEQ = 2**63 - 1


class ShardReport(BaseModel):
    """One shard: ``ok`` when nothing broken was found in what this verification read (``verified_from`` ..
    ``verified_through``) and in the shard's checkpoints (the newest one's KMS signature, its link to the one before
    it, and the S3 copies). Numbers are as stored, unbounded: a forged item's absurd seq is reported, not refused."""

    model_config = ConfigDict(extra="forbid")

    shard: int = Field(ge=0, le=1023)
    ok: bool
    size: int = Field(description="entries stored in the shard")
    checkpoint_size: int | None = Field(default=None, description="entries covered by the newest signed checkpoint")
    first_broken_seq: int | None = None
    reason: str | None = Field(default=None, max_length=500)
    verified_from: int = Field(
        default=0, description="first seq this verification read (the trusted checkpoint's last)"
    )
    verified_through: int | None = Field(
        default=None, description="the verified-through marker: the last seq found intact"
    )
    published: bool | None = Field(
        default=None,
        description="the newest checkpoint is in the Object Lock bucket (null: no checkpoint, or no bucket)",
    )


class AuditVerifyReport(BaseModel):
    """Every shard (the body of ``GET /audit/verify``); ``first_broken_seq`` / ``first_broken_shard`` name the
    lowest-numbered broken shard's first bad seq (seqs of different shards are not comparable). ``ok`` only when
    the verification is ``complete``; otherwise ``next_cursor`` continues it."""

    ok: bool
    shards: list[ShardReport]
    first_broken_seq: int | None = Field(description="the first bad sequence number of the first broken shard")
    first_broken_shard: int | None
    mode: VerifyMode = Field(
        default="incremental",
        description="'incremental': entries after each shard's newest trusted checkpoint; 'genesis': every entry",
    )
    complete: bool = Field(default=True, description="false: the time budget ran out, pass next_cursor to go on")
    next_cursor: str | None = Field(default=None, description="continues this verification where it stopped")
    entries_read: int = Field(default=0, description="entries read by this call")


class VerifyProgress(BaseModel):
    """Where a stopped verification goes on (the ``next_cursor`` of ``GET /audit/verify``, base64url JSON): the
    shard, the chain walk's position, the last checkpoint linked so far (full mode) and the finished shards."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    mode: VerifyMode
    shard: int = Field(ge=0, le=1023)
    seq: int = Field(ge=0, le=_MAX_SEQ)
    prev: str = Field(pattern=_HEX64)
    verified_from: int = Field(ge=0, le=_MAX_SEQ)
    checkpoint_size: int | None = Field(ge=0, le=_MAX_SEQ)
    published: bool | None
    cp_size: int = Field(ge=0, le=_MAX_SEQ)
    cp_digest: str = Field(pattern=_HEX64)
    done: list[ShardReport] = Field(max_length=1024)


class EntryPage(BaseModel):
    """A page of entries, shard 0 first then by seq; ``next_cursor`` None when every shard has been read."""

    items: list[AuditEntry]
    next_cursor: str | None
    scanned: int = 0
