"""The resolver factory every API function uses: validation on, the shared error map, documented errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, get_origin

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Route
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from gpubroker.api.body_guard import check_body
from gpubroker.api.errors import ErrorResponse, error_body, status_for
from gpubroker.domain.errors import (
    DomainError,
    RepeatedParameter,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    UnknownParameter,
    ValidationFailed,
    throttled,
)
from gpubroker.observability import CORRELATION_HEADER, correlation_id, logger, metrics, request_metrics, tracer

if TYPE_CHECKING:
    from gpubroker.api.deps import ApiDeps

_DESCRIPTIONS = {
    400: "Malformed request (unknown parameter, malformed cursor, body nested too deep, number too long)",
    404: "Not found",
    410: "Gone (an expired pagination cursor)",
    422: "A value is out of range or unknown",
    413: "The body is larger than the front door takes (6 MiB, Lambda's own payload limit)",
    415: "The body is not JSON (send Content-Type: application/json)",
    503: "No data published yet",
    401: "Missing, invalid or expired credentials or token",
    403: "Authenticated but not allowed",
    409: "Conflicts with the current state (e.g. MFA is already enabled)",
    429: "Too many requests (see Retry-After)",
}


def responses(
    ok: Any, *errors: int, ok_status: int = 200, also: dict[int, tuple[str, Any]] | None = None
) -> dict[int, Any]:
    """OpenAPI ``responses`` for a route: its success model and the error statuses it can answer (ErrorResponse).
    Every route may answer 400 (an unknown query parameter, a body nested too deep), 413 (a body too large), 422
    (validation) and 429 (its plan's rate); routes
    with a body also 415 (a body that is not JSON). ``also``: more answers, status -> (description, model), e.g. a
    second success status; one for ``ok_status`` replaces the plain "OK"."""
    out: dict[int, Any] = {ok_status: {"description": "OK", "content": {"application/json": {"model": ok}}}}
    for status in dict.fromkeys((*errors, 400, 413, 422, 429)):
        out[status] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/json": {"model": ErrorResponse}},
        }
    for status, (description, model) in (also or {}).items():
        out[status] = {"description": description, "content": {"application/json": {"model": model}}}
    return out


def _json(status: int, body: dict[str, Any]) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def new_resolver() -> APIGatewayRestResolver:
    """A REST resolver with the shared error map and, on every route, the front door (plan rate limits) and the
    rule for unknown query parameters."""
    from gpubroker.api.ratelimit import front_door

    app = APIGatewayRestResolver(enable_validation=True)
    app.use([front_door, known_query_only])

    @app.exception_handler(DomainError)
    def _domain(exc: DomainError) -> Response[Any]:
        response = _json(status_for(exc), error_body(exc.code, exc.message, exc.details))
        if isinstance(exc, TooManyRequests) or isinstance(getattr(exc, "retry_after", None), int):
            response.headers["Retry-After"] = str(getattr(exc, "retry_after", 1))
        if isinstance(exc, Unauthorized):
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[Any]:
        details = [
            {"loc": list(err.get("loc", ())), "type": err.get("type"), "msg": err.get("msg")} for err in exc.errors()
        ]
        return _json(422, error_body("validation_error", "request parameters failed validation", details))

    @app.exception_handler(RequestUnsupportedContentType)
    def _media(exc: Exception) -> Response[Any]:
        return _json(
            415, error_body("unsupported_media_type", "the body must be JSON (Content-Type: application/json)")
        )

    @app.exception_handler(UnicodeDecodeError)
    def _not_text(exc: Exception) -> Response[Any]:
        return _json(422, error_body("validation_error", "the body is not UTF-8 JSON"))

    @app.not_found
    def _not_found(exc: Exception) -> Response[Any]:
        return _json(404, error_body("route_not_found", "no such route"))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[Any]:
        if throttled(exc):  # AWS still throttling after the SDK's retries: the client retries later
            logger.warning("an AWS dependency throttled the request", extra={"error": type(exc).__name__})
            response = _json(503, error_body(Unavailable.code, "a dependency is throttling requests; retry shortly"))
            response.headers["Retry-After"] = "1"
            return response
        logger.exception("unhandled error")
        return _json(500, error_body("internal_error", "internal error; it has been logged"))

    return app


def declared_query(route: Route) -> frozenset[str]:
    """The query parameter names a route declares: each ``Query()`` parameter, and each field of a pydantic
    model expanded into query parameters (``Annotated[Model, Query()]``), by alias."""
    names: set[str] = set()
    for param in route.dependant.query_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            names.update(f.alias or name for name, f in model.model_fields.items())
        else:
            names.add(param.alias)
    return frozenset(names)


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) in (list, tuple) or annotation in (list, tuple)


def repeatable_query(route: Route) -> frozenset[str]:
    """The declared query parameters that take several values (a list or tuple: ``gpu``, ``region``, ...)."""
    names: set[str] = set()
    for param in route.dependant.query_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            names.update(f.alias or name for name, f in model.model_fields.items() if _is_list(f.annotation))
        elif _is_list(model):
            names.add(param.alias)
    return frozenset(names)


def known_query_only(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Unknown query parameter names are a 400 ``unknown_parameter`` on every route, not silently ignored (a typo
    such as ``sinse`` must not widen an answer): the names a route accepts are the ones its handler declares. A
    one-value parameter given twice (``max_gpu_memory_gb=1&max_gpu_memory_gb=x``) is a 400 ``repeated_parameter``:
    which of the values would count is not the caller's to guess, and the others would go unchecked."""
    route: Route = app.context["_route"]
    if route not in app._static_routes and route not in app._dynamic_routes:
        return next_middleware(app)  # no route matched: Powertools' not-found route answers 404, whatever the query
    allowed = declared_query(route)
    given = set(app.current_event.multi_value_query_string_parameters or {}) | set(
        app.current_event.query_string_parameters or {}
    )
    unknown = sorted(given - allowed)
    if unknown:
        raise UnknownParameter(
            f"unknown query parameter {unknown[0]!r}", details={"unknown": unknown, "allowed": sorted(allowed)}
        )
    multi = app.current_event.multi_value_query_string_parameters or {}
    repeated = sorted(n for n, values in multi.items() if len(values or ()) > 1 and n not in repeatable_query(route))
    if repeated:
        raise RepeatedParameter(f"query parameter {repeated[0]!r} takes one value", details={"repeated": repeated})
    return next_middleware(app)


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: dict[str, Any]) -> M:
    """Validate into a domain model; a failure is a 422 with pydantic's locations, never a 500."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [{"loc": list(err["loc"]), "type": err["type"], "msg": err["msg"]} for err in exc.errors()]
        raise ValidationFailed("request parameters failed validation", details=details) from None


def _json_or_empty(event: dict[str, Any]) -> bool:
    """Every API body is JSON: any other declared media type is refused before anything parses it."""
    if not event.get("body"):
        return True
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    media = str(headers.get("content-type") or "").split(";")[0].strip().lower()
    return not media or media == "application/json" or media.endswith("+json")


def _object_or_empty(event: dict[str, Any]) -> bool:
    """Every API body is a JSON object. Powertools validates a JSON array against a route's body model by its
    first element (measured: ``[{}, [1]]`` accepted by POST /math/ensemble-recommend), so arrays and scalars are
    refused here. A body that is not JSON at all is left to the route's validation (422)."""
    raw = event.get("body")
    if not raw or event.get("isBase64Encoded"):
        return True
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return True


SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}
"""Headers on every response of every REST route, success or error: a browser must never sniff a JSON body into
something it would render or run. Set once, in ``api_handler``, around everything a function answers."""


def _early(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body),
            "isBase64Encoded": False}  # fmt: skip


def with_security_headers(result: dict[str, Any]) -> dict[str, Any]:
    """``SECURITY_HEADERS`` added to a proxy response, in whichever header map it uses (Powertools' REST
    resolver answers ``multiValueHeaders``; ``_early`` answers ``headers``); a value already set is kept. The
    request's correlation id goes out too (``X-Correlation-Id``), so a client can quote it."""
    multi = result.get("multiValueHeaders")
    extra = {CORRELATION_HEADER: cid} if (cid := correlation_id()) else {}
    for name, value in {**SECURITY_HEADERS, **extra}.items():
        if isinstance(multi, dict):
            multi.setdefault(name, [value])
        else:
            result.setdefault("headers", {}).setdefault(name, value)
    return result


def api_handler(app: APIGatewayRestResolver, default_deps: Callable[[], ApiDeps]) -> Callable[..., Any]:
    """The Lambda entry point of an API function: Powertools context, tracing and metrics around
    ``app.resolve``, with the function's ports in ``app.context["deps"]``: ``deps`` passed in (tests), else
    ``default_deps()`` from the composition root (``gpubroker.wiring``). The front door and the audit middleware
    take their ports from there too (``ApiDeps.front_door``, ``AuditedApiDeps.audit``). Every answer, early ones
    included, is counted by ``request_metrics`` (count, latency, errors by route and status class); the
    correlation id is API Gateway's request id."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    @request_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: ApiDeps | None = None) -> dict[str, Any]:
        try:
            check_body(event)  # size, depth and digit bounds on the raw text, before anything parses it
        except DomainError as exc:
            return with_security_headers(_early(status_for(exc), error_body(exc.code, exc.message, exc.details)))
        if not _json_or_empty(event):
            body = error_body("unsupported_media_type", "the body must be JSON (Content-Type: application/json)")
            return with_security_headers(_early(415, body))
        if not _object_or_empty(event):
            return with_security_headers(_early(422, error_body("validation_error", "the body must be a JSON object")))
        app.append_context(deps=deps if deps is not None else default_deps())
        result: dict[str, Any] = app.resolve(event, context)
        return with_security_headers(result)

    return lambda_handler
