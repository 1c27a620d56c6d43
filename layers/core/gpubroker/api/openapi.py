"""One OpenAPI document for the whole API, merged from each function's own resolver (its routes and models)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel

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
        models = _query_models(app)
        for path, ops in schema.get("paths", {}).items():
            for method, op in ops.items():
                fields = models.get((method.upper(), path), {})
                for param in op.get("parameters", []):
                    if param.get("in") == "query" and param["name"] in fields:
                        param["schema"] = fields[param["name"]]
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


def _query_models(app: APIGatewayRestResolver) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """(method, path) -> the JSON schema of each field of the pydantic models a route takes as its query
    (``Annotated[Model, Query()]``). Powertools expands such a model into one parameter per field but gives each
    only its basic type, dropping enums and bounds; the model's own JSON schema has them."""
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for route in app._static_routes + app._dynamic_routes:
        fields: dict[str, dict[str, Any]] = {}
        for param in route.dependant.query_params:
            model = param.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                props = model.model_json_schema(mode="validation").get("properties", {})
                for name, f in model.model_fields.items():
                    prop = props[f.alias or name]
                    if prop.get("default", 0) in (None, []):  # an absent parameter: nothing to default to
                        prop = {k: v for k, v in prop.items() if k != "default"}
                    fields[f.alias or name] = prop
        if fields:
            path = route.path.replace("<", "{").replace(">", "}")
            methods = route.method if isinstance(route.method, tuple | list) else (route.method,)
            out.update({(str(m).upper(), path): fields for m in methods})
    return out


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
