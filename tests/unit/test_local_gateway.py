"""The local stack's API Gateway stand-in for protected routes: identity sources, the authorizer cache, the
gateway responses of template.yaml (what a deployed stage answers before any function runs)."""

from __future__ import annotations

import json
from typing import Any

from infra.local.gateway import Gate
from infra.local.runtime import FunctionError, Throttled
from infra.local.template import Route, read_app

APP = read_app()
ROUTE = Route(method="GET", path="/audit", function="ApiListAuditFunction", authorizer="UserAuthorizer")


class Authorizer:
    """Runtime stand-in that answers for the authorizer function: a scripted policy per token."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        assert function == APP.authorizers["UserAuthorizer"].function
        self.calls.append(event)
        token = event["headers"]["authorization"].removeprefix("Bearer ")
        if token == "bad":
            raise FunctionError(function, Exception("Unauthorized"))
        if token == "broken":
            raise FunctionError(function, KeyError("boom"))
        if token == "throttled":  # the authorizer at its reserved concurrency
            raise Throttled(function, 1)
        effect = "Deny" if token == "deny" else "Allow"
        arn = event["methodArn"].rsplit("/", 2)[0] + "/*/*"
        statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": [arn]}
        return {"principalId": "u1", "context": {"user_id": "u1", "plan": "pro", "roles": "user", "fam": "f1"},
                "policyDocument": {"Version": "2012-10-17", "Statement": [statement]}}  # fmt: skip


def _event(authorization: str | None = "Bearer good", cookie: str | None = "__Host-gpb_fgp=x") -> dict[str, Any]:
    headers = {k: v for k, v in {"authorization": authorization, "cookie": cookie}.items() if v is not None}
    return {"httpMethod": "GET", "path": "/audit", "headers": headers,
            "requestContext": {"apiId": "local", "stage": "local"}}  # fmt: skip


def _gate() -> tuple[Gate, Authorizer, list[float]]:
    now = [0.0]
    runtime = Authorizer()
    return Gate(APP, runtime, clock=lambda: now[0]), runtime, now  # type: ignore[arg-type]


def test_allowed_requests_carry_the_authorizer_context() -> None:
    gate, _, _ = _gate()
    event = _event()
    assert gate.enter(ROUTE, event) is None
    assert event["requestContext"]["authorizer"] == {"user_id": "u1", "plan": "pro", "roles": "user", "fam": "f1",
                                                     "principalId": "u1"}  # fmt: skip


def test_missing_identity_sources_get_the_template_401_without_calling_the_authorizer() -> None:
    gate, runtime, _ = _gate()
    for event in (_event(authorization=None), _event(cookie=None), _event(authorization="")):
        refused = gate.enter(ROUTE, event)
        assert refused is not None and refused.status == 401
        assert json.loads(refused.body)["error"]["code"] == "unauthorized"
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert runtime.calls == []


def test_refusals_deny_and_failures() -> None:
    gate, _, _ = _gate()
    assert (gate.enter(ROUTE, _event("Bearer bad")) or _fail()).status == 401
    denied = gate.enter(ROUTE, _event("Bearer deny")) or _fail()
    assert denied.status == 403 and json.loads(denied.body)["error"]["code"] == "forbidden"
    assert (gate.enter(ROUTE, _event("Bearer broken")) or _fail()).status == 500
    assert (gate.enter(ROUTE, _event("Bearer throttled")) or _fail()).status == 500  # AUTHORIZER_FAILURE


def test_answers_are_cached_per_identity_source_values_for_reauthorize_every() -> None:
    gate, runtime, now = _gate()
    ttl = APP.authorizers["UserAuthorizer"].ttl_s
    for _ in range(5):
        assert gate.enter(ROUTE, _event()) is None
    assert len(runtime.calls) == 1
    assert gate.enter(ROUTE, _event(cookie="__Host-gpb_fgp=other")) is None  # another cookie: another cache key
    assert len(runtime.calls) == 2
    now[0] += ttl + 1
    assert gate.enter(ROUTE, _event()) is None
    assert len(runtime.calls) == 3


def test_public_routes_pass_untouched() -> None:
    gate, runtime, _ = _gate()
    event = _event(authorization=None)
    assert gate.enter(Route(method="GET", path="/offers", function="ApiListOffersFunction"), event) is None
    assert "authorizer" not in event["requestContext"] and runtime.calls == []


def _fail() -> Any:
    raise AssertionError("expected a gateway answer")
