"""GET /audit: the audit log a page at a time, shard 0 first then by sequence number (admins only), optionally
filtered (actor, action or its family, resource, request id, outcome or its class, a time range): the filter runs in
DynamoDB, and one call reads at most ``SEARCH_BUDGET`` entries, so a filtered page can be short with a cursor."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from gpubroker.api.audit_models import AuditPage, AuditQuery
from gpubroker.api.identity import require_role
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import AuditSettings
from gpubroker.domain.audit import EntryFilter, parse_bound
from gpubroker.services.audit import list_entries
from gpubroker.wiring.audit import AuditListDeps, audit_list_deps

Settings = AuditSettings
Deps = AuditListDeps
app = new_resolver()


@app.get("/audit", responses=responses(AuditPage, 400, 401, 403))
def list_audit(query: Annotated[AuditQuery, Query()]) -> AuditPage:
    require_role(app, "admin")
    where = EntryFilter(
        actor=query.actor,
        action=query.action,
        resource=query.resource,
        request_id=query.request_id,
        outcome=query.outcome,
        since=parse_bound("since", query.since),
        until=parse_bound("until", query.until),
    )
    page = list_entries(app.context["deps"].log, limit=query.limit, cursor=query.cursor, where=where)
    return AuditPage.model_validate(page.model_dump())


lambda_handler = api_handler(app, audit_list_deps)
