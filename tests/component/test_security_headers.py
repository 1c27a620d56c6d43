"""``X-Content-Type-Options: nosniff`` on every answer of every REST route of the template: a refusal from the
front door (an unknown parameter's 400, the plan rate's 429), a body that is not JSON (415, answered before the
resolver), a path no route matches (404), and a success (a token response, which keeps ``Cache-Control:
no-store``). The gateway's own answers carry it too (template.yaml ``GatewayResponses``, the local front)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from gpubroker.api.deps import FrontDoor
from gpubroker.domain.accounts import Principal
from gpubroker.domain.plans import Decision
from gpubroker.services import auth
from infra.local.template import load_template, read_app
from tests.component.conftest import default_wired, handler_module
from tests.events import Ctx, rest_event
from tests.fakes_auth import auth_api
from tests.unit.test_mfa_service import EMAIL, PASSWORD, _world

APP = read_app()
ROUTES = sorted((r.method, r.path, r.function) for r in APP.routes)
PATH_VALUES = {
    "offer_id": "runpod-abc-1",
    "name": "best-value",
    "model": "H100-SXM",
    "booking_id": "b-1",
    "conversation_id": "c" * 22,
}
ADMIN = Principal(user_id="root", plan="enterprise", roles=frozenset({"user", "admin"}))


def headers_of(res: dict[str, Any]) -> dict[str, Any]:
    multi = {k: v[-1] for k, v in (res.get("multiValueHeaders") or {}).items() if v}
    return {**(res.get("headers") or {}), **multi}


def _call(method: str, path: str, lid: str, monkeypatch: pytest.MonkeyPatch, **event: Any) -> dict[str, Any]:
    module = default_wired(APP.functions[lid].module_name, monkeypatch, "nosniff")
    params = {k: v for k, v in PATH_VALUES.items() if "{" + k + "}" in path}
    ev = rest_event(path, path.format(**params), event.pop("query", None), params or None)
    ev["httpMethod"] = method
    ev["requestContext"]["authorizer"] = ADMIN.to_context()
    ev.update(event)
    res: dict[str, Any] = module.lambda_handler(ev, Ctx())
    return res


def test_every_route_is_walked() -> None:
    assert len(ROUTES) >= 30 and ("POST", "/auth/refresh", "ApiAuthRefreshFunction") in ROUTES


@pytest.mark.parametrize(("method", "path", "lid"), ROUTES)
def test_a_front_door_refusal_says_nosniff(method: str, path: str, lid: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal before the route runs: the unknown parameter's 400, or request validation's 422 for a route whose
    body is missing (Powertools validates a body before the middlewares run)."""
    res = _call(method, path, lid, monkeypatch, query={"nosniff_probe": ["1"]})
    assert res["statusCode"] in {400, 422}, res["body"]
    assert headers_of(res)["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("method", "path", "lid"), ROUTES)
def test_an_early_415_says_nosniff(method: str, path: str, lid: str, monkeypatch: pytest.MonkeyPatch) -> None:
    res = _call(method, path, lid, monkeypatch, body="<html>", headers={"Content-Type": "text/html"})
    assert res["statusCode"] == 415, res["body"]
    assert headers_of(res)["X-Content-Type-Options"] == "nosniff"


def test_a_path_no_route_matches_says_nosniff(monkeypatch: pytest.MonkeyPatch) -> None:
    res = _call("GET", "/offers/{offer_id}/nowhere", "ApiListSimilarOffersFunction", monkeypatch)
    assert (res["statusCode"], json.loads(res["body"])["error"]["code"]) == (404, "route_not_found")
    assert headers_of(res)["X-Content-Type-Options"] == "nosniff"


class _Refusing:
    def check(self, principal: str, limit: int, window_s: float = 1.0) -> Decision:
        return Decision(allowed=False, limit=limit, remaining=0, reset_s=window_s, retry_after_s=3)


def _refresh(deps: Any, body: dict[str, Any], cookie: str | None = None) -> dict[str, Any]:
    ev = rest_event("/auth/refresh", "/auth/refresh")
    ev["httpMethod"] = "POST"
    ev["body"] = json.dumps(body)
    ev["headers"] = {"Content-Type": "application/json", **({"Cookie": cookie} if cookie else {})}
    res: dict[str, Any] = handler_module("api_auth_refresh").lambda_handler(ev, Ctx(), deps=deps)
    return res


def test_a_token_response_says_nosniff_and_no_store_and_a_429_says_nosniff() -> None:
    deps, _ = _world()
    session = auth.login(EMAIL, PASSWORD, ip="203.0.113.9", deps=deps)
    assert isinstance(session, auth.Session)
    api = auth_api(deps)
    res = _refresh(api, {"refresh_token": session.refresh_token}, f"__Host-gpb_fgp={session.fingerprint}")
    assert res["statusCode"] == 200, res["body"]
    got = headers_of(res)
    assert (got["X-Content-Type-Options"], got["Cache-Control"]) == ("nosniff", "no-store")
    throttled = _refresh(replace(api, front_door=FrontDoor(limiter=_Refusing())), {"refresh_token": "x" * 40})
    assert throttled["statusCode"] == 429 and headers_of(throttled)["X-Content-Type-Options"] == "nosniff"


def test_every_gateway_response_of_the_template_says_nosniff() -> None:
    """API Gateway's own answers (authorizer refusals, throttling, unknown paths, integration failures): each
    customised type names the header (a customised type does not inherit DEFAULT_4XX's), and the defaults exist."""
    api = next(r for r in load_template()["Resources"].values() if r["Type"] == "AWS::Serverless::Api")
    responses = api["Properties"]["GatewayResponses"]
    assert {"DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED", "ACCESS_DENIED"} <= set(responses)
    for kind, spec in responses.items():
        assert spec["ResponseParameters"]["Headers"]["X-Content-Type-Options"] == "'nosniff'", kind
