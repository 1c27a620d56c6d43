"""The MFA handlers (enrol, verify, login) with real API Gateway events and in-memory ports behind: each refusal
mapped to its status. The rules themselves: tests/unit/test_mfa_service.py."""

from __future__ import annotations

import json
from typing import Any

from gpubroker.domain.accounts import Principal
from gpubroker.services import auth, mfa
from tests.component.conftest import handler_module
from tests.events import Ctx, rest_event
from tests.fakes_audit import MemoryAuditLog
from tests.fakes_auth import auth_api
from tests.unit.test_mfa_service import EMAIL, PASSWORD, _code, _uid, _world


def _call(
    name: str, path: str, body: dict[str, Any] | None, deps: auth.AuthDeps, audit: MemoryAuditLog,
    *, principal: Principal | None = None,
) -> tuple[int, dict[str, Any], dict[str, Any]]:  # fmt: skip
    ev = rest_event(path, path)
    ev["httpMethod"] = "POST"
    ev["body"] = json.dumps(body) if body is not None else None
    ev["headers"] = {"Content-Type": "application/json"}
    if principal is not None:
        ev["requestContext"]["authorizer"] = principal.to_context()
    res = handler_module(name).lambda_handler(ev, Ctx(), deps=auth_api(deps, audit))
    multi = {k: v[-1] if len(v) == 1 else v for k, v in (res.get("multiValueHeaders") or {}).items()}
    headers = {**res.get("headers", {}), **multi}
    return int(res["statusCode"]), json.loads(res["body"]), headers


def test_the_handlers_enroll_verify_login_and_map_each_refusal() -> None:
    deps, clock = _world()
    audit = MemoryAuditLog()
    me = Principal(user_id=_uid(deps))
    step_up = {"password": PASSWORD}  # enrolment needs the password in the request (step-up), not only a session
    status, body, _ = _call("api_auth_mfa_enroll", "/auth/mfa/enroll", step_up, deps, audit)
    assert (status, body["error"]["code"]) == (401, "unauthorized")  # no authorizer context: nobody
    status, body, _ = _call("api_auth_mfa_enroll", "/auth/mfa/enroll", None, deps, audit, principal=me)
    assert (status, body["error"]["code"]) == (422, "validation_error")  # a session alone is not enough
    status, body, _ = _call("api_auth_mfa_enroll", "/auth/mfa/enroll", {"password": "wrong horse battery"}, deps,
                            audit, principal=me)  # fmt: skip
    assert (status, body["error"]["code"]) == (403, "step_up_failed")
    state = deps.mfa.state(EMAIL)
    assert state is not None and state.pending_secret is None  # nothing written
    status, enrolment, headers = _call("api_auth_mfa_enroll", "/auth/mfa/enroll", step_up, deps, audit, principal=me)
    assert status == 200 and headers.get("Cache-Control") == "no-store"
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/GPUBroker:") and enrolment["expires_in"] == 300
    assert enrolment["qr_png"].startswith("data:image/png;base64,")
    verify = {"challenge": enrolment["challenge"], "code": _code(enrolment["secret"], clock)}
    status, body, _ = _call("api_auth_mfa_verify", "/auth/mfa/verify", {**verify, "code": "12ab56"}, deps, audit)
    assert status == 422
    status, body, _ = _call("api_auth_mfa_verify", "/auth/mfa/verify", verify, deps, audit)
    assert status == 200 and body["status"] == "mfa_enabled" and len(body["recovery_codes"]) == 10
    status, body, _ = _call("api_auth_mfa_enroll", "/auth/mfa/enroll", step_up, deps, audit, principal=me)
    assert (status, body["error"]["code"]) == (409, "mfa_already_enabled")
    clock.advance(30)
    status, body, _ = _call("api_auth_login", "/auth/login", {"email": EMAIL, "password": PASSWORD}, deps, audit)
    assert status == 202 and body["mfa_required"] is True and body["expires_in"] == 300
    assert "access_token" not in body and "refresh_token" not in body
    challenge = body["challenge"]
    status, body, headers = _call("api_auth_mfa_verify", "/auth/mfa/verify", {"challenge": challenge,
                                  "code": _code(enrolment["secret"], clock)}, deps, audit)  # fmt: skip
    assert status == 200 and body["token_type"] == "Bearer" and "__Host-gpb_fgp=" in str(headers["Set-Cookie"])
    status, body, _ = _call("api_auth_mfa_verify", "/auth/mfa/verify", {"challenge": challenge,
                            "code": _code(enrolment["secret"], clock, 1)}, deps, audit)  # fmt: skip
    assert (status, body["error"]["code"]) == (401, "invalid_mfa_challenge")
    # throttled: 429 with Retry-After
    limit, window = mfa.MFA_PER_USER
    for _ in range(limit):  # someone has spent this account's budget of codes
        deps.throttle.check(f"mfa:{me.user_id}", limit, window)
    status, body, _ = _call("api_auth_login", "/auth/login", {"email": EMAIL, "password": PASSWORD}, deps, audit)
    status, body, headers = _call("api_auth_mfa_verify", "/auth/mfa/verify", {"challenge": body["challenge"],
                                  "code": "000000"}, deps, audit)  # fmt: skip
    assert status == 429 and int(headers["Retry-After"]) >= 1
    actions = [e.action for n in range(audit.shards) for e in audit.all_entries(n)]
    assert actions.count("auth.mfa.enroll") == 4 and actions.count("auth.mfa.verify") >= 4
