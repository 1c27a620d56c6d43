"""POST /auth/mfa/disable (signed in, step-up: the password or a current TOTP code in the body): MFA off.

403 ``step_up_failed`` for a wrong or reused proof, 409 ``mfa_not_enabled`` when it is off already."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.audit import audit_middleware
from gpubroker.api.auth_models import MfaDisabled, StepUp, proof
from gpubroker.api.identity import require_user
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import AuthSettings
from gpubroker.services import mfa
from gpubroker.wiring.auth import AuthApiDeps, auth_deps

Settings = AuthSettings
Deps = AuthApiDeps
app = new_resolver()
app.use([audit_middleware(action="auth.mfa.disable")])


@app.post("/auth/mfa/disable", responses=responses(MfaDisabled, 401, 403, 409, 415))
def disable(request: Annotated[StepUp, Body()]) -> MfaDisabled:
    principal = require_user(app)
    app.append_context(audit_resource=f"user/{principal.user_id}")
    password, code = proof(request)
    mfa.disable(principal.user_id, password=password, code=code, deps=app.context["deps"].auth)
    return MfaDisabled()


lambda_handler = api_handler(app, auth_deps)
