"""The bodies of ``GET /audit`` and ``GET /audit/verify`` (the admin routes only: the audit middleware that every
mutating function loads does not build them). The verify report is the service's own result model."""

from __future__ import annotations

from pydantic import BaseModel, Field

from gpubroker.domain.audit_reports import AuditVerifyReport, ShardReport
from gpubroker.services.audit import MAX_PAGE

__all__ = ["AuditEntryOut", "AuditPage", "AuditQuery", "AuditVerifyReport", "ShardReport"]


class AuditQuery(BaseModel):
    """``GET /audit``'s query parameters (any other name is a 400): the page, and the filter (every given condition
    must hold; see ``domain.audit.EntryFilter``)."""

    limit: int = Field(default=100, ge=1, le=MAX_PAGE, description="entries per page")
    cursor: str | None = Field(default=None, max_length=512, description="next_cursor of the previous page")
    actor: str | None = Field(
        default=None, min_length=1, max_length=256, description="exactly this actor: 'user:<id>' or 'anon:<ip>'"
    )
    action: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="this action or its family: 'auth' matches 'auth.login' and 'auth.mfa.enroll', not 'authz.x'",
    )
    resource: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="exactly this resource ('booking/<id>', '/auth/login'); reads the resource's one shard",
    )
    request_id: str | None = Field(
        default=None, min_length=1, max_length=256, description="exactly this request id (the correlation id)"
    )
    outcome: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="this outcome or a refinement of it: 'refused' matches 'refused:401' and 'refused:401:reused';"
        " 'ok', 'refused', 'error'",
    )
    since: str | None = Field(
        default=None, max_length=40, description="entries at or after this time: ISO 8601 with 'Z' or an offset"
    )
    until: str | None = Field(
        default=None, max_length=40, description="entries before this time: ISO 8601 with 'Z' or an offset"
    )


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
    scanned: int = Field(
        default=0,
        description="entries read to answer this page: with a filter, a page may hold fewer entries than 'limit',"
        " even none, and still have a next_cursor (one call reads at most 5,000 entries): follow it to search on",
    )
