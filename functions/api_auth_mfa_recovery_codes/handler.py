"""POST /auth/mfa/recovery-codes (signed in, step-up: the password or a current TOTP code in the body): 10 new
recovery codes, shown once; the old ones stop working. 403 ``step_up_failed``, 409 ``mfa_not_enabled``."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.audit import audit_middleware
from gpubroker.api.auth_models import RecoveryCodes, StepUp, proof
from gpubroker.api.identity import require_user
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import AuthSettings
from gpubroker.services import mfa
from gpubroker.wiring.auth import AuthApiDeps, auth_deps

Settings = AuthSettings
Deps = AuthApiDeps
app = new_resolver()
app.use([audit_middleware(action="auth.mfa.recovery_codes")])


@app.post("/auth/mfa/recovery-codes", responses=responses(RecoveryCodes, 401, 403, 409, 415))
def regenerate(request: Annotated[StepUp, Body()]) -> Response[Any]:
    principal = require_user(app)
    app.append_context(audit_resource=f"user/{principal.user_id}")
    password, code = proof(request)
    done = mfa.regenerate_recovery_codes(principal.user_id, password=password, code=code,
                                         deps=app.context["deps"].auth)  # fmt: skip
    body = RecoveryCodes(recovery_codes=list(done.recovery_codes))
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body.model_dump(),
                    headers={"Cache-Control": "no-store"})  # fmt: skip


lambda_handler = api_handler(app, auth_deps)
