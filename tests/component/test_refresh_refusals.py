"""POST /auth/refresh over real API Gateway events: every refusal answers the client the same 401
``refresh_refused`` (a specific code would tell the holder of a stolen refresh token that it is otherwise valid),
and the audit entry of the refusal records the reason (``refused:401:<reason>``, in the hash chain)."""

from __future__ import annotations

import json
from typing import Any

from gpubroker.domain.audit import verify_shard
from gpubroker.services import auth
from tests.component.conftest import handler_module
from tests.component.test_audit_handlers import _ip, entries, post
from tests.component.test_security_headers import headers_of
from tests.events import Ctx
from tests.fakes_audit import MemoryAuditLog
from tests.fakes_auth import auth_api, auth_world
from tests.unit.test_auth_service import _tokens

REFRESH = handler_module("api_auth_refresh")
EMAIL, PASSWORD = "refusals@example.com", "correct horse battery"


def _refresh(token: str, cookie: str | None, deps: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    ev = post("/auth/refresh", {"refresh_token": token}, ip=_ip())
    if cookie is not None:
        ev["headers"]["Cookie"] = f"__Host-gpb_fgp={cookie}"
    res = REFRESH.lambda_handler(ev, Ctx(), deps=deps)
    return res, json.loads(res["body"]), ev["requestContext"]["requestId"]


def test_every_refusal_reason_gives_the_client_one_body_and_the_audit_the_reason() -> None:
    deps, _ = auth_world()
    auth.register(EMAIL, PASSWORD, deps=deps)
    s = _tokens(auth.login(EMAIL, PASSWORD, ip="192.0.2.1", deps=deps))
    log = MemoryAuditLog()
    api = auth_api(deps, log)

    res, _, _ = _refresh(s.refresh_token, s.fingerprint, api)  # spends s.refresh_token
    assert res["statusCode"] == 200
    newest = json.loads(res["body"])["refresh_token"]
    attempts = {  # reason -> (token, fingerprint cookie)
        "fingerprint_missing": (newest, None),
        "fingerprint": (newest, "a-fingerprint-from-another-browser"),
        "malformed": ("x" * 40, s.fingerprint),
        "signature": (newest[:-10] + ("AAAA" if newest[-10:-6] != "AAAA" else "BBBB") + newest[-6:], s.fingerprint),
        "type": (s.access_token, s.fingerprint),
        "reused": (s.refresh_token, s.fingerprint),  # a spent token came back: the family is revoked
        "revoked": (newest, s.fingerprint),
    }
    bodies, audited = [], {}
    for reason, (token, cookie) in attempts.items():
        res, body, request_id = _refresh(token, cookie, api)
        assert res["statusCode"] == 401, (reason, body)
        assert headers_of(res)["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        bodies.append(body)
        audited[request_id] = reason
    assert all(b == bodies[0] for b in bodies), bodies
    assert bodies[0] == {"error": {"code": "refresh_refused", "message": "the refresh token was refused; sign in again",
                                   "details": None}}  # fmt: skip
    logged = {e["request_id"]: e for e in entries(log)}
    for request_id, reason in audited.items():
        entry = logged[request_id]
        assert (entry["action"], entry["outcome"]) == ("auth.refresh", f"refused:401:{reason}")
    for shard in range(log.shards):  # the reasons are in the hash chain
        assert verify_shard(log.all_entries(shard), None, True, shard=shard).ok
