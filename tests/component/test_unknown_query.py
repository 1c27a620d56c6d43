"""One rule for unknown query parameters, on every GET route of the template: a name the route does not declare is
a 400 ``unknown_parameter`` (a typo such as ``sinse`` must not widen an answer), and the declared ones still pass.
Each function runs with its default wiring (dummy resource names): the refusal comes before any port is read."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

from gpubroker.domain.accounts import Principal
from infra.local.template import read_app
from tests.component.conftest import default_wired
from tests.conftest import clear_wiring_caches
from tests.events import Ctx, rest_event

APP = read_app()
GET_ROUTES = sorted((r.path, r.function) for r in APP.routes if r.method == "GET")
PATH_VALUES = {
    "offer_id": "runpod-abc-1",
    "name": "best-value",
    "model": "H100-SXM",
    "booking_id": "bk_" + "a" * 26,
    "conversation_id": "c" * 22,
}
ADMIN = Principal(user_id="root", plan="enterprise", roles=frozenset({"user", "admin"}))


def _call(path: str, lid: str, query: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch) -> tuple[int, Any]:
    module = default_wired(APP.functions[lid].module_name, monkeypatch, "unknown-query")
    params = {k: PATH_VALUES[k] for k in PATH_VALUES if "{" + k + "}" in path}
    concrete = path.format(**params)
    ev = rest_event(path, concrete, query, params or None)
    ev["requestContext"]["authorizer"] = ADMIN.to_context()
    res = module.lambda_handler(ev, Ctx())
    return int(res["statusCode"]), json.loads(res["body"])


def test_every_get_route_is_walked() -> None:
    assert len(GET_ROUTES) >= 16 and ("/offers/{offer_id}/history", "ApiGetOfferHistoryFunction") in GET_ROUTES


@pytest.mark.parametrize(("path", "lid"), GET_ROUTES)
def test_an_unknown_query_parameter_is_a_400(path: str, lid: str, monkeypatch: pytest.MonkeyPatch) -> None:
    status, body = _call(path, lid, {"sinse": ["2025-01-01"]}, monkeypatch)
    assert status == 400, body
    assert body["error"]["code"] == "unknown_parameter"
    assert body["error"]["details"]["unknown"] == ["sinse"]
    assert "sinse" not in body["error"]["details"]["allowed"]


def test_the_allowed_names_are_the_routes_declared_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    status, body = _call("/offers/{offer_id}/history", "ApiGetOfferHistoryFunction", {"sinse": ["x"]}, monkeypatch)
    assert (status, body["error"]["details"]["allowed"]) == (400, ["cursor", "limit", "since", "until"])
    status, body = _call("/offers", "ApiListOffersFunction", {"gpus": ["H100-SXM"]}, monkeypatch)
    assert status == 400 and {"gpu", "provider", "q", "sort", "limit", "cursor"} <= set(
        body["error"]["details"]["allowed"]
    )


def test_a_path_no_route_matches_is_a_404_whatever_its_query(monkeypatch: pytest.MonkeyPatch) -> None:
    """Powertools answers an unmatched path through a not-found route that declares nothing: the query rule must
    not turn that 404 into a 400 (found by schemathesis: ``/offers/%C3%97.../similar?limit=10``)."""
    module = importlib.import_module(APP.functions["ApiListSimilarOffersFunction"].module_name)
    monkeypatch.setenv("SNAPSHOT_BUCKET", "unknown-query-test")
    clear_wiring_caches()
    ev = rest_event("/offers/{offer_id}/similar", "/offers/\u00d7\u00f4/similar", {"limit": ["10"]},
                    {"offer_id": "\u00d7\u00f4"})  # fmt: skip
    res = module.lambda_handler(ev, Ctx())
    assert (res["statusCode"], json.loads(res["body"])["error"]["code"]) == (404, "route_not_found")


def test_every_route_documents_the_400() -> None:
    """Each operation of the merged OpenAPI document lists 400 among its answers (what a client or fuzzer sending
    an unknown parameter receives)."""
    from gpubroker.api.openapi import merge_openapi

    apps = [
        importlib.import_module(APP.functions[lid].module_name).app for lid in sorted({r.function for r in APP.routes})
    ]
    doc = merge_openapi(apps, title="t", version="1")
    undocumented = [
        (m, path) for path, ops in doc["paths"].items() for m, op in ops.items() if "400" not in op["responses"]
    ]
    assert undocumented == []


def test_a_one_value_parameter_given_twice_is_a_400_and_a_list_parameter_may_repeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Schemathesis found ``max_gpu_memory_gb=0.0&max_gpu_memory_gb=[...]`` answered 200: one value was read and the
    others went unchecked. A one-value parameter given twice is refused; list parameters still repeat."""
    query = {"max_gpu_memory_gb": ["0.0", "not a number"]}
    status, body = _call("/offers", "ApiListOffersFunction", query, monkeypatch)
    assert (status, body["error"]["code"], body["error"]["details"]) == (
        400,
        "repeated_parameter",
        {"repeated": ["max_gpu_memory_gb"]},
    )
    status, body = _call("/offers", "ApiListOffersFunction", {"gpu": ["H100", "A6000"], "region": ["eu", "us"]},
                         monkeypatch)  # fmt: skip
    assert status != 400 or body["error"]["code"] not in ("repeated_parameter", "unknown_parameter"), body
