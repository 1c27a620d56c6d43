"""GET /audit: the audit log a page at a time, shard 0 first then by sequence number (admins only)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from gpubroker.api.audit_models import AuditPage
from gpubroker.api.identity import require_role
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import AuditSettings
from gpubroker.services.audit import MAX_PAGE, list_entries
from gpubroker.wiring.audit import AuditListDeps, audit_list_deps

Settings = AuditSettings
Deps = AuditListDeps
app = new_resolver()


@app.get("/audit", responses=responses(AuditPage, 400, 401, 403))
def list_audit(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="entries per page")] = 100,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")] = None,
) -> AuditPage:
    require_role(app, "admin")
    return AuditPage.model_validate(list_entries(app.context["deps"].log, limit=limit, cursor=cursor).model_dump())


lambda_handler = api_handler(app, audit_list_deps)
