"""GET /audit/verify: recompute every shard's hash chain and check it against its newest KMS-signed checkpoint;
answers per shard ok or the first broken sequence number (admins only)."""

from __future__ import annotations

from gpubroker.api.audit_models import AuditVerifyReport
from gpubroker.api.identity import require_role
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import AuditSigningSettings
from gpubroker.services.audit import verify_log
from gpubroker.wiring.audit import AuditVerifyDeps, audit_verify_deps

Settings = AuditSigningSettings
Deps = AuditVerifyDeps
app = new_resolver()


@app.get("/audit/verify", responses=responses(AuditVerifyReport, 400, 401, 403))
def verify_audit() -> AuditVerifyReport:
    require_role(app, "admin")
    deps: Deps = app.context["deps"]
    return verify_log(deps.log, deps.signer)


lambda_handler = api_handler(app, audit_verify_deps)
