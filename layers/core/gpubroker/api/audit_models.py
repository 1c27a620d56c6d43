"""The bodies of ``GET /audit`` and ``GET /audit/verify`` (the admin routes only: the audit middleware that every
mutating function loads does not build them). The verify report is the service's own result model."""

from __future__ import annotations

from pydantic import BaseModel, Field

from gpubroker.domain.audit_reports import AuditVerifyReport, ShardReport

__all__ = ["AuditEntryOut", "AuditPage", "AuditVerifyReport", "ShardReport"]


class AuditEntryOut(BaseModel):
    shard: int
    seq: int = Field(description="0, 1, 2, ... without gaps within the shard")
    ts: str = Field(description="UTC, ISO 8601 with microseconds and a 'Z'")
    actor: str = Field(description="'user:<id>' or 'anon:<source ip>'")
    action: str
    resource: str
    request_id: str
    outcome: str = Field(
        description="'ok', 'refused:<status>' or 'error:<status>'; a refusal whose reason the client is not told"
        " records it after the status: 'refused:401:reused'"
    )
    prev_hash: str = Field(description="hash of the previous entry of the shard (64 zeros for seq 0)")
    hash: str = Field(description="sha256(prev_hash || canonical(entry)), hex")


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None = Field(description="pass as 'cursor' for the next page; null after the last one")
