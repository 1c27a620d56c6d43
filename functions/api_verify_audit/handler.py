"""GET /audit/verify: verify the audit log against its KMS-signed checkpoints (admins only).

By default incrementally: each shard's newest checkpoint (signature, link, S3 copy), then only the entries after it.
``?from=genesis`` re-verifies every entry from the start. Either stops before the API's 29 s (the function's
remaining time) and answers ``complete: false`` with a ``next_cursor`` to go on from.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.metrics import MetricUnit

from gpubroker.api.audit_models import AuditVerifyReport
from gpubroker.api.identity import require_role
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import AuditSigningSettings
from gpubroker.domain.audit_reports import VerifyMode
from gpubroker.observability import metrics
from gpubroker.services.audit import VerifyBudget, verify_log
from gpubroker.wiring.audit import AuditVerifyDeps, audit_verify_deps

Settings = AuditSigningSettings
Deps = AuditVerifyDeps
app = new_resolver()
RESERVE_MS = 5_000
"""Stop reading this long before the function's timeout: time to answer (and API Gateway gives up at 29 s)."""


@app.get("/audit/verify", responses=responses(AuditVerifyReport, 400, 401, 403))
def verify_audit(
    start: Annotated[
        Literal["checkpoint", "genesis"],
        Query(
            alias="from",
            description="'checkpoint': entries after each shard's newest trusted checkpoint; 'genesis': every entry",
        ),
    ] = "checkpoint",
    cursor: Annotated[
        str | None, Query(max_length=8192, description="next_cursor of the previous answer: go on from there")
    ] = None,
) -> AuditVerifyReport:
    require_role(app, "admin")
    deps: Deps = app.context["deps"]
    budget = VerifyBudget(time_left_ms=app.lambda_context.get_remaining_time_in_millis, reserve_ms=RESERVE_MS)
    mode: VerifyMode = "genesis" if start == "genesis" else "incremental"
    report = verify_log(deps.log, deps.signer, archive=deps.archive, mode=mode, cursor=cursor, budget=budget)
    if report.first_broken_shard is not None:  # the same metric as the checkpoint function's: AuditVerifyFailureAlarm
        metrics.add_metric(name="AuditTampered", unit=MetricUnit.Count, value=1)
    return report


lambda_handler = api_handler(app, audit_verify_deps)
