"""The whole OpenAPI document, as ``python -m infra.openapi`` generates it from template.yaml and every function's
resolver: valid OpenAPI 3.1 (openapi-spec-validator), JSON Schema keywords only in every schema of it, every route
tagged with a clean unique operationId, rate limits and security documented, every error code in the enum, and the
copy GET /openapi.json ships in AWS current."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from infra.local.template import ROOT, load_template, read_app
from infra.openapi import SERVED, build_document, render

APP = read_app()
ROUTES = sorted((r.method.lower(), r.path) for r in APP.routes)
PROTECTED = {(r.method.lower(), r.path) for r in APP.routes if r.authorizer}

# JSON Schema 2020-12 (core, applicator, validation, unevaluated, format, content, meta-data) + OpenAPI 3.1's own
SCHEMA_KEYWORDS = {
    "$schema", "$id", "$ref", "$defs", "$anchor", "$dynamicRef", "$dynamicAnchor", "$comment", "$vocabulary",
    "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "prefixItems", "items", "contains",
    "properties", "patternProperties", "additionalProperties", "propertyNames", "unevaluatedItems",
    "unevaluatedProperties", "type", "const", "enum", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains",
    "minContains", "maxProperties", "minProperties", "required", "dependentRequired", "format", "contentEncoding",
    "contentMediaType", "contentSchema", "title", "description", "default", "deprecated", "readOnly", "writeOnly",
    "examples", "discriminator", "xml", "externalDocs", "example",
}  # fmt: skip


@cache
def document() -> dict[str, Any]:
    return build_document()


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document()["paths"].items():
        for method, op in item.items():
            yield method, path, op


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.1.")
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    assert errors == []


def test_the_validator_sees_a_dangling_ref() -> None:
    """What the document once had: a $ref to a schema that is not there (Powertools' ValidationError)."""
    broken = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {},
              "components": {"schemas": {"A": {"$ref": "#/components/schemas/ValidationError"}}}}  # fmt: skip
    with pytest.raises(Exception, match="ValidationError"):
        list(OpenAPIV31SpecValidator(broken).iter_errors())


def schema_roots(doc: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for name, schema in doc["components"]["schemas"].items():
        yield f"components/schemas/{name}", schema
    for header, spec in doc["components"].get("headers", {}).items():
        yield f"components/headers/{header}", spec["schema"]
    for method, path, op in operations():
        where = f"{method.upper()} {path}"
        for p in op.get("parameters", []):
            yield f"{where} parameter {p['name']}", p["schema"]
        for status, part in [("body", op.get("requestBody", {})), *op["responses"].items()]:
            for media, content in part.get("content", {}).items():
                yield f"{where} {status} {media}", content["schema"]
            for header, spec in part.get("headers", {}).items():
                yield f"{where} {status} header {header}", spec["schema"]


def foreign_keywords(schema: Any, where: str) -> Iterator[str]:
    """Every key of every schema object under ``schema`` that is no JSON Schema 2020-12 / OpenAPI 3.1 keyword
    (property names are names, not keywords)."""
    if not isinstance(schema, dict):
        return
    for key in sorted(set(schema) - SCHEMA_KEYWORDS):
        yield f"{where}: {key}"
    for key, value in schema.items():
        if key in {"properties", "patternProperties", "$defs", "dependentSchemas"}:
            for name, sub in value.items():
                yield from foreign_keywords(sub, f"{where}/{key}/{name}")
        elif key in {"allOf", "anyOf", "oneOf", "prefixItems"}:
            for i, sub in enumerate(value):
                yield from foreign_keywords(sub, f"{where}/{key}/{i}")
        elif key in {"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
                     "unevaluatedItems", "unevaluatedProperties", "contentSchema"}:  # fmt: skip
            yield from foreign_keywords(value, f"{where}/{key}")


def test_every_schema_speaks_json_schema() -> None:
    """Bounds are minimum/maximum (exclusive ones numeric, as 3.1 has them), never pydantic's ge/le/gt/lt: a
    validator or fuzzer ignores a keyword it does not know, and the bound with it."""
    found = [k for where, schema in schema_roots(document()) for k in foreign_keywords(schema, where)]
    assert found == []
    gpu_count = document()["components"]["schemas"]["LlmInference"]["properties"]["gpu_count"]["anyOf"][0]
    assert (gpu_count["minimum"], gpu_count["maximum"]) == (1, 4096)
    for _, schema in schema_roots(document()):
        for word in ("exclusiveMinimum", "exclusiveMaximum"):
            assert not isinstance(schema.get(word), bool)


def test_every_route_is_documented_with_a_tag_and_a_clean_unique_operation_id() -> None:
    doc = document()
    assert sorted((m, p) for m, p, _ in operations()) == ROUTES
    ids = [op["operationId"] for _, _, op in operations()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-zA-Z0-9]*", i) for i in ids), ids
    assert {"listOffers", "getOffer", "authLogin", "mathTopsis", "getOpenapi"} <= set(ids)
    declared = {t["name"] for t in doc["tags"]}
    used = {t for _, _, op in operations() for t in op["tags"]}
    assert used == declared
    expected = {"offers", "gpus", "providers", "market", "presets", "math", "auth", "audit", "health", "meta"}
    assert expected <= declared
    tag = {(m, p): op["tags"] for m, p, op in operations()}
    assert tag[("get", "/me/presets")] == ["presets"] and tag[("get", "/.well-known/jwks.json")] == ["auth"]
    assert all(t.get("description") for t in doc["tags"] if t["name"] in expected)


def test_every_route_documents_its_rate_limit() -> None:
    """Every route runs the front door: each success carries RateLimit and RateLimit-Policy; 429 Retry-After."""
    for method, path, op in operations():
        where = f"{method.upper()} {path}"
        refused = op["responses"].get("429")
        assert refused is not None, where
        assert refused["headers"]["Retry-After"]["required"] is True, where
        assert refused["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
        assert {"RateLimit", "RateLimit-Policy"} <= set(refused["headers"]), where
        ok = [r for status, r in op["responses"].items() if status.startswith("2")]
        assert ok, where
        for response in ok:
            assert {h: response["headers"][h]["required"] for h in ("RateLimit", "RateLimit-Policy")} == {
                "RateLimit": True,
                "RateLimit-Policy": True,
            }, where


def test_protected_routes_need_the_bearer_token_and_document_401_and_403() -> None:
    doc = document()
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "the access token from POST /auth/login or /auth/refresh",
    }  # fmt: skip
    assert PROTECTED and PROTECTED < set(ROUTES)
    for method, path, op in operations():
        if (method, path) in PROTECTED:
            assert op["security"] == [{"bearerAuth": [], "fingerprintCookie": []}], path
            assert {"401", "403"} <= set(op["responses"]), path
            assert "WWW-Authenticate" in op["responses"]["401"]["headers"]
        else:
            assert "security" not in op, path


def _source_codes() -> dict[str, str]:
    """Every error code the sources answer with, literally: ``error_body("x", ...)``, a class's ``code = "x"``, a
    gateway response's or the local front's ``"code": "x"``."""
    found: dict[str, str] = {}
    patterns = (r'error_body\(\s*"([a-z_]+)"', r'^\s+code = "([a-z_]+)"', r'"code":\s*"([a-z_]+)"',
                r'_error\(\s*\d+,\s*"([a-z_]+)"')  # fmt: skip
    files = [*(ROOT / "layers/core").rglob("*.py"), *(ROOT / "functions").glob("*/handler.py"),
             ROOT / "infra/local/http_front.py", ROOT / "infra/local/web_front.py"]  # fmt: skip
    for path in files:
        text = path.read_text()
        for pattern in patterns:
            for code in re.findall(pattern, text, re.MULTILINE):
                found.setdefault(code, str(path.relative_to(ROOT)))
    for kind, response in load_template()["Resources"]["Api"]["Properties"]["GatewayResponses"].items():
        for body in response.get("ResponseTemplates", {}).values():
            for code in re.findall(r'"code":\s*"([a-z_]+)"', body):
                found.setdefault(code, f"template.yaml GatewayResponses {kind}")
    return found


def test_the_error_code_enum_names_every_code_the_api_answers() -> None:
    enum = document()["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["enum"]
    sources = _source_codes()
    assert {"rate_limited", "validation_error", "unauthorized", "route_not_found", "offer_not_found"} <= set(sources)
    missing = {code: where for code, where in sources.items() if code not in enum}
    assert missing == {}, "add the code to gpubroker.api.errors.ANSWER_CODES (or raise a DomainError class)"


def test_the_document_the_function_ships_is_current() -> None:
    """functions/api_get_openapi/openapi.json is what a plain ``sam build`` publishes: `make openapi` writes it
    (`make build` does first), and it must be this generator's output for the routes of today."""
    assert SERVED.exists(), "run `make openapi`"
    assert SERVED.read_text(encoding="utf-8") == render(document()), (
        f"{SERVED.relative_to(ROOT)} is stale: run `make openapi` and commit it"
    )
