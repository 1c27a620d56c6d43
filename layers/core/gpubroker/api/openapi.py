"""One OpenAPI document for the whole API, merged from each function's own resolver (its routes and models)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from gpubroker.api.cookies import FINGERPRINT_COOKIE
from gpubroker.api.errors import ErrorResponse

SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "the access token from POST /auth/login or /auth/refresh"},
    "fingerprintCookie": {"type": "apiKey", "in": "cookie", "name": FINGERPRINT_COOKIE,
                          "description": "the fingerprint the access token is bound to (set by login)"},
}  # fmt: skip
_GATEWAY_ERRORS = {401: "Missing, invalid or expired access token", 403: "Authenticated but not allowed"}


def merge_openapi(
    apps: Iterable[APIGatewayRestResolver],
    *,
    title: str,
    version: str,
    protected: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    """``protected``: the (method, path) pairs behind the Lambda authorizer; they require both security schemes
    together and document the gateway's 401 and 403."""
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": {},
        "components": {"schemas": {}},
    }
    for app in apps:
        schema = app.get_openapi_schema(title=title, version=version).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        for path, ops in schema.get("paths", {}).items():
            for op in ops.values():
                for param in op.get("parameters", []):
                    param["schema"] = _without_null(param.get("schema", {}))
            doc["paths"].setdefault(path, {}).update(ops)
        doc["components"]["schemas"].update(schema.get("components", {}).get("schemas", {}))
    # validation errors answer with the same body as every other error
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in error_schema.pop("$defs", {}).items():
        doc["components"]["schemas"][name] = sub
    doc["components"]["schemas"]["HTTPValidationError"] = error_schema
    doc["components"]["schemas"].pop("ValidationError", None)
    _secure(doc, protected)
    return doc


def _secure(doc: dict[str, Any], protected: Iterable[tuple[str, str]]) -> None:
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
    protected = list(protected)
    for method, path in protected:
        op = doc["paths"][path][method.lower()]
        op["security"] = [{name: [] for name in SECURITY_SCHEMES}]
        for status, text in _GATEWAY_ERRORS.items():
            op.setdefault("responses", {}).setdefault(str(status), {"description": text, **error})
    if protected:
        doc["components"]["securitySchemes"] = SECURITY_SCHEMES


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, {type: null}]`` -> X for a parameter: a query string, path or header cannot carry a JSON null
    (an optional parameter is simply absent), and the nullable union makes fuzzers send ``false`` or ``null`` as
    "invalid" values that arrive as perfectly valid strings."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return schema
    kept = [b for b in branches if b != {"type": "null"}]
    if len(kept) == len(branches) or not kept:
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest} if len(kept) == 1 else {"anyOf": kept, **rest}
