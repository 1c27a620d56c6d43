"""GET /openapi.json is a function (api_get_openapi), in AWS and in the local stack alike: it answers the document
the generator wrote, through the front door every route runs (its quota headers on the answer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gpubroker.adapters.ratelimit import MemoryRateLimiter
from gpubroker.api.deps import FrontDoor
from tests.component.conftest import handler_module
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED

FUNCTION = "api_get_openapi"
SHIPPED = Path(handler_module(FUNCTION).__file__).with_name("openapi.json")  # type: ignore[arg-type]


def _get(deps: Any = None) -> dict[str, Any]:
    res: dict[str, Any] = handler_module(FUNCTION).lambda_handler(rest_event("/openapi.json", "/openapi.json"), Ctx(),
                                                                  deps=deps)  # fmt: skip
    return res


def _headers(res: dict[str, Any]) -> dict[str, Any]:
    return {**(res.get("headers") or {}), **{k: v[-1] for k, v in (res.get("multiValueHeaders") or {}).items() if v}}


def test_the_function_answers_its_document_with_the_front_doors_headers() -> None:
    module = handler_module(FUNCTION)
    text = json.dumps({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}})
    res = _get(module.Deps(front_door=FrontDoor(limiter=MemoryRateLimiter()), document=text))
    assert (res["statusCode"], json.loads(res["body"])) == (200, json.loads(text))
    headers = _headers(res)
    assert headers["Content-Type"] == "application/json" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["RateLimit-Policy"] == '"default";q=10;w=1' and headers["RateLimit"].startswith('"default";r=9')


def test_by_default_it_reads_the_file_shipped_beside_the_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """In AWS: ``OPENAPI_DOCUMENT=openapi.json`` (template.yaml), relative to the function's folder."""
    monkeypatch.setenv("OPENAPI_DOCUMENT", "openapi.json")
    res = _get()
    assert res["statusCode"] == 200 and json.loads(res["body"]) == json.loads(SHIPPED.read_text())
    assert json.loads(res["body"])["paths"]["/openapi.json"]["get"]["operationId"] == "getOpenapi"


def test_an_absolute_path_is_read_as_is(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What the local stack does: the document it generated at start, wherever it put it."""
    fresh = tmp_path / "openapi.json"
    fresh.write_text('{"openapi": "3.1.0", "paths": {"/new": {}}}')
    monkeypatch.setenv("OPENAPI_DOCUMENT", str(fresh))
    res = _get()
    assert res["statusCode"] == 200 and json.loads(res["body"])["paths"] == {"/new": {}}


def test_unlimited_in_tests_and_the_document_is_never_revalidated() -> None:
    """The route answers the stored text as it is (no model pass over 200 KB per request)."""
    module = handler_module(FUNCTION)
    res = _get(module.Deps(front_door=UNLIMITED, document='{"a": [1, 2.50]}'))
    assert res["body"] == '{"a": [1, 2.50]}'
