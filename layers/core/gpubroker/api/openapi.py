"""One OpenAPI 3.1 document for the whole API, merged from each function's own resolver (its routes and models).

``merge_openapi`` takes the functions' resolvers (by function name: ``api_list_offers`` -> operationId
``listOffers``) and finishes what Powertools leaves out or gets wrong for a multi-function API:

- one error body everywhere (``ErrorResponse``, its ``code`` an enum of every code the API answers), in place of
  Powertools' ``HTTPValidationError`` / ``ValidationError`` schemas (a ``$ref`` to one of them once dangled);
- JSON Schema keywords only: pydantic writes a constrained optional field (``Int | None = Field(ge=1)``) as
  ``ge``/``le`` inside the union, which no validator or fuzzer reads; they become ``minimum``/``maximum`` (and
  ``gt``/``lt`` the numeric ``exclusiveMinimum``/``exclusiveMaximum`` of OpenAPI 3.1 / JSON Schema 2020-12);
- a tag per area (from the path), a camelCase operationId per route, unique;
- the front door every route runs (``gpubroker.api.ratelimit``): ``RateLimit`` and ``RateLimit-Policy`` on each
  success, and 429 with ``Retry-After``;
- the Lambda authorizer of protected routes: both security schemes, 401 (with ``WWW-Authenticate``) and 403.

Every ``$ref`` is checked to resolve and unreferenced schemas are dropped, so the document validates
(``openapi-spec-validator``; tests/unit/test_openapi_document.py walks all of it).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel

from gpubroker.api.cookies import FINGERPRINT_COOKIE
from gpubroker.api.errors import ErrorResponse, error_codes
from gpubroker.api.ratelimit import POLICY

OPENAPI_VERSION = "3.1.0"
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "the access token from POST /auth/login or /auth/refresh"},
    "fingerprintCookie": {"type": "apiKey", "in": "cookie", "name": FINGERPRINT_COOKIE,
                          "description": "the fingerprint the access token is bound to (set by login)"},
}  # fmt: skip
_GATEWAY_ERRORS = {
    401: "Missing, invalid or expired access token or fingerprint cookie (the gateway's authorizer)",
    403: "Authenticated but not allowed",
}

# an area's tag: the first path segment, except where a route belongs with another area's
TAGS = {
    "offers": "Live GPU offers: search, one offer, its price history, similar offers",
    "gpus": "The GPU catalog",
    "providers": "Cloud providers and their catalogs",
    "market": "The market at a glance",
    "presets": "Ready-made selections of offers (public ones, and the caller's own under /me)",
    "math": "Computations on request data or live offers: costs, efficiency, rankings, recommenders, workloads",
    "interactions": "What the caller did with offers (views, saves, bookings): the recommender's input",
    "auth": "Accounts, tokens, MFA, and the keys that verify tokens",
    "audit": "The audit log and its verification (admins)",
    "billing": "Plans and payments: the Stripe webhook",
    "health": "Liveness and readiness",
    "meta": "This document",
}
_TAG_OF_SEGMENT = {".well-known": "auth", "openapi.json": "meta", "me": ""}  # "": the next segment's

HEADERS = {
    "RateLimit": {
        "description": f'Requests left in the current window and seconds until it frees one (IETF draft '
                       f'ratelimit-headers, structured fields), e.g. `"{POLICY}";r=9;t=1`',
        "schema": {"type": "string"},
    },
    "RateLimit-Policy": {
        "description": f"The caller's quota: requests per window, window in seconds, e.g. `\"{POLICY}\";q=10;w=1` "
                       "(per user at its plan's rate when a valid bearer token comes with the request, else per "
                       "source IP at the free rate)",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying (an integer, at least 1)",
        "schema": {"type": "integer", "minimum": 1},
    },
    "WWW-Authenticate": {"description": "The bearer challenge", "schema": {"type": "string"}},
}  # fmt: skip
_414 = "The request line is longer than the gateway takes (a query string or cursor far past its bounds)"
_429 = "Too many requests: the caller's plan rate, a login or MFA throttle, or the API's own rate (see Retry-After)"

# JSON Schema keywords whose value is a schema, a list of schemas, or a map of name -> schema
_SUB_SCHEMA = ("additionalProperties", "items", "not", "contains", "propertyNames", "if", "then", "else",
               "unevaluatedItems", "unevaluatedProperties", "contentSchema")  # fmt: skip
_SUB_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUB_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
# pydantic's constraint names (annotated-types) where it fails to translate them
_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum",
           "multiple_of": "multipleOf"}  # fmt: skip
_LENGTHS = {"min_length": ("minLength", "minItems", "minProperties"),
            "max_length": ("maxLength", "maxItems", "maxProperties")}  # fmt: skip
_POWERTOOLS_ERRORS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
_REF = "#/components/schemas/"


def merge_openapi(
    apps: Mapping[str, APIGatewayRestResolver] | Iterable[APIGatewayRestResolver],
    *,
    title: str,
    version: str,
    protected: Iterable[tuple[str, str]] = (),
    description: str | None = None,
) -> dict[str, Any]:
    """The document of every route of ``apps``: function name -> its resolver (the name gives the operationId;
    an unnamed resolver's come from method and path). ``protected``: the (method, path) pairs behind the Lambda
    authorizer. Raises ValueError when two functions claim one route or one schema name differently, or a
    ``$ref`` does not resolve."""
    named = apps.items() if isinstance(apps, Mapping) else ((None, app) for app in apps)
    doc: dict[str, Any] = {"openapi": OPENAPI_VERSION, "info": {"title": title, "version": version}, "paths": {},
                           "components": {"schemas": {}}}  # fmt: skip
    if description:
        doc["info"]["description"] = description
    schemas: dict[str, Any] = doc["components"]["schemas"]
    for name, app in named:
        schema = app.get_openapi_schema(title=title, version=version).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        models = _query_models(app)
        ops = [(path, method, op) for path, item in schema.get("paths", {}).items() for method, op in item.items()]
        for path, method, op in ops:
            fields = models.get((method.upper(), path), {})
            for param in op.get("parameters", []):
                if param.get("in") == "query" and param["name"] in fields:
                    param["schema"] = fields[param["name"]]
                param["schema"] = _without_null(param.get("schema", {}))
            if method in doc["paths"].get(path, {}):
                raise ValueError(f"{method.upper()} {path} is routed by two functions")
            op["operationId"] = _camel(name.removeprefix("api_")) if name and len(ops) == 1 else _camel(method, path)
            doc["paths"].setdefault(path, {})[method] = op
        for key, sub in schema.get("components", {}).get("schemas", {}).items():
            if key in schemas and schemas[key] != sub and key not in _POWERTOOLS_ERRORS:
                raise ValueError(f"two different schemas are named {key}: rename one of the models")
            schemas[key] = sub
    _finish(doc, set(protected))
    return doc


def _finish(doc: dict[str, Any], protected: set[tuple[str, str]]) -> None:
    schemas = doc["components"]["schemas"]
    for name in _POWERTOOLS_ERRORS:
        schemas.pop(name, None)
    error = ErrorResponse.model_json_schema(ref_template=_REF + "{model}")
    schemas.update(error.pop("$defs", {}))
    schemas["ErrorResponse"] = error
    schemas["ErrorDetail"]["properties"]["code"].update(
        enum=error_codes(), description="machine-readable: what went wrong (one of these, whatever the status)"
    )
    for schema in _schemas(doc):
        _walk(schema, _json_schema_keywords)
    _rewrite_refs(doc, {_REF + name: _REF + "ErrorResponse" for name in _POWERTOOLS_ERRORS})
    ids: dict[str, str] = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            if op["operationId"] in ids:
                raise ValueError(f"{where} and {ids[op['operationId']]} share operationId {op['operationId']}")
            ids[op["operationId"]] = where
            op.setdefault("tags", [_tag(path)])
            _front_door(op)
            if (method.upper(), path) in protected:
                _secure(op)
    tags = sorted({t for item in doc["paths"].values() for op in item.values() for t in op["tags"]})
    doc["tags"] = [{"name": t, **({"description": TAGS[t]} if t in TAGS else {})} for t in tags]
    doc["components"]["headers"] = copy.deepcopy(HEADERS)
    if protected:
        doc["components"]["securitySchemes"] = SECURITY_SCHEMES
    _prune(doc)


def _camel(*words: str) -> str:
    parts = [p for w in words for p in re.split(r"[^A-Za-z0-9]+", w) if p]
    return parts[0].lower() + "".join(p[:1].upper() + p[1:].lower() for p in parts[1:])


def _tag(path: str) -> str:
    for segment in path.strip("/").split("/"):
        tag = _TAG_OF_SEGMENT.get(segment, segment.split(".")[0].lower())
        if tag:
            return tag
    return "meta"


def _header(name: str, *, required: bool) -> dict[str, Any]:
    return {**copy.deepcopy(HEADERS[name]), "required": required}


def _front_door(op: dict[str, Any]) -> None:
    """The plan rate limit of every route: each success carries the quota headers; a 429 ``Retry-After`` (the
    quota headers too when the front door refused, not when a login throttle or the gateway did). And the gateway's
    own 414 to a request line past its limit, which no function sees."""
    responses = op.setdefault("responses", {})
    for status, response in responses.items():
        if status.startswith("2"):
            headers = response.setdefault("headers", {})
            headers.update({h: _header(h, required=True) for h in ("RateLimit", "RateLimit-Policy")})
    responses.setdefault("414", {"description": _414, **_error_content()})
    too_many = responses.setdefault("429", {"description": _429, **_error_content()})
    too_many["description"] = _429
    too_many["headers"] = {"Retry-After": _header("Retry-After", required=True),
                           **{h: _header(h, required=False) for h in ("RateLimit", "RateLimit-Policy")}}  # fmt: skip


def _error_content() -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": _REF + "ErrorResponse"}}}}


def _secure(op: dict[str, Any]) -> None:
    op["security"] = [{name: [] for name in SECURITY_SCHEMES}]
    responses = op.setdefault("responses", {})
    for status, text in _GATEWAY_ERRORS.items():
        responses.setdefault(str(status), {"description": text, **_error_content()})
    responses["401"].setdefault("headers", {})["WWW-Authenticate"] = _header("WWW-Authenticate", required=False)


def _schemas(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every top-level schema of the document: components, parameters, bodies, responses, headers."""
    yield from doc["components"]["schemas"].values()
    for item in doc["paths"].values():
        for op in item.values():
            for param in op.get("parameters", []):
                yield param.setdefault("schema", {})
            bodies = [op.get("requestBody", {}), *op.get("responses", {}).values()]
            for body in bodies:
                for media in body.get("content", {}).values():
                    if "schema" in media:
                        yield media["schema"]
                for header in body.get("headers", {}).values():
                    if "schema" in header:
                        yield header["schema"]


def _walk(schema: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    """``visit`` every schema object under ``schema`` (itself included), by JSON Schema's structure: the names
    under ``properties`` are names, not keywords."""
    if not isinstance(schema, dict):
        return
    visit(schema)
    for key in _SUB_SCHEMA:
        _walk(schema.get(key), visit)
    for key in _SUB_SCHEMA_LISTS:
        for sub in schema.get(key) or []:
            _walk(sub, visit)
    for key in _SUB_SCHEMA_MAPS:
        for sub in (schema.get(key) or {}).values():
            _walk(sub, visit)


def _json_schema_keywords(schema: dict[str, Any]) -> None:
    for raw, keyword in _BOUNDS.items():
        if raw in schema:
            schema.setdefault(keyword, schema.pop(raw))
    kind = schema.get("type")
    index = 1 if kind == "array" else 2 if kind == "object" else 0
    for raw, keywords in _LENGTHS.items():
        if raw in schema:
            schema.setdefault(keywords[index], schema.pop(raw))


def _rewrite_refs(node: Any, renames: dict[str, str]) -> None:
    if isinstance(node, dict):
        if node.get("$ref") in renames:
            node["$ref"] = renames[node["$ref"]]
        for value in node.values():
            _rewrite_refs(value, renames)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value, renames)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _prune(doc: dict[str, Any]) -> None:
    """Keep the component schemas reachable from the paths; fail on a ``$ref`` that points nowhere."""
    schemas = doc["components"]["schemas"]
    reachable: set[str] = set()
    todo = [r for r in _refs(doc["paths"])]
    while todo:
        ref = todo.pop()
        if not ref.startswith(_REF) or ref.removeprefix(_REF) not in schemas:
            raise ValueError(f"$ref {ref} points nowhere")
        name = ref.removeprefix(_REF)
        if name not in reachable:
            reachable.add(name)
            todo.extend(_refs(schemas[name]))
    doc["components"]["schemas"] = {name: schemas[name] for name in sorted(reachable)}


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
