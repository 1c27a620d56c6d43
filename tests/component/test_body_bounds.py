"""The front door's body bounds, on every route of the template (GET /health included): a body nested a thousand
levels deep (2 KB) answered 502 everywhere (``RecursionError`` in the body parsing), an integer of 5,000 digits a 500
(Python's int conversion limit). Both are now refused with the one error shape before anything parses the body;
each function runs with its default wiring (dummy resource names): the refusal comes before any port is read."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

from gpubroker.api.body_guard import MAX_BODY_BYTES
from gpubroker.domain.accounts import Principal
from infra.local.template import read_app
from tests.component.conftest import default_wired
from tests.conftest import clear_wiring_caches
from tests.events import Ctx, rest_event

APP = read_app()
ROUTES = sorted({(r.method, r.path, r.function) for r in APP.routes})
PATH_VALUES = {
    "offer_id": "runpod-abc-1",
    "name": "best-value",
    "model": "H100-SXM",
    "provider": "runpod",
    "booking_id": "bk_" + "a" * 26,
    "conversation_id": "c" * 22,
}
ADMIN = Principal(user_id="root", plan="enterprise", roles=frozenset({"user", "admin"}))


def _call(method: str, path: str, lid: str, body: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, Any]:
    module = default_wired(APP.functions[lid].module_name, monkeypatch, "body-bounds")
    params = {k: PATH_VALUES[k] for k in PATH_VALUES if "{" + k + "}" in path}
    ev = rest_event(path, path.format(**params), None, params or None)
    ev["httpMethod"] = ev["requestContext"]["httpMethod"] = method
    ev["headers"] = {**(ev.get("headers") or {}), "Content-Type": "application/json"}
    ev["body"] = body
    ev["requestContext"]["authorizer"] = ADMIN.to_context()
    res = module.lambda_handler(ev, Ctx())
    return int(res["statusCode"]), json.loads(res["body"])


def test_every_route_is_walked() -> None:
    assert any(m == "GET" and p == "/health" for m, p, _ in ROUTES)
    assert len(ROUTES) >= 30


@pytest.mark.parametrize(("method", "path", "lid"), ROUTES)
def test_a_body_a_thousand_levels_deep_is_a_400(
    method: str, path: str, lid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, body = _call(method, path, lid, "[" * 1000 + "]" * 1000, monkeypatch)
    assert (status, body["error"]["code"]) == (400, "body_too_deep"), body
    status, body = _call(method, path, lid, '{"a":' * 1000 + "1" + "}" * 1000, monkeypatch)
    assert (status, body["error"]["code"]) == (400, "body_too_deep"), body


@pytest.mark.parametrize(("method", "path", "lid"), ROUTES)
def test_an_integer_of_5000_digits_is_a_400(method: str, path: str, lid: str, monkeypatch: pytest.MonkeyPatch) -> None:
    status, body = _call(method, path, lid, '{"limit": ' + "9" * 5000 + "}", monkeypatch)
    assert (status, body["error"]["code"]) == (400, "number_too_long"), body


@pytest.mark.parametrize(("method", "path", "lid"), ROUTES)
def test_a_body_past_the_size_bound_is_a_413(method: str, path: str, lid: str, monkeypatch: pytest.MonkeyPatch) -> None:
    status, body = _call(method, path, lid, '{"q": "' + "x" * MAX_BODY_BYTES + '"}', monkeypatch)
    assert (status, body["error"]["code"]) == (413, "body_too_large"), body


def test_a_refused_body_says_nosniff_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The body bounds answer before the resolver: their answers carry the security headers all the same."""
    module = importlib.import_module(APP.functions["ApiHealthFunction"].module_name)
    clear_wiring_caches()
    ev = rest_event("/health", "/health", None, None)
    ev["body"] = "[" * 1000 + "]" * 1000
    res = module.lambda_handler(ev, Ctx())
    assert res["statusCode"] == 400 and res["headers"]["X-Content-Type-Options"] == "nosniff"
