"""The one place domain errors become HTTP: by class hierarchy, never by message text."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from pydantic import BaseModel

from gpubroker.domain import errors as e

STATUS: dict[type[e.DomainError], int] = {
    e.InvalidRequest: 400,
    e.BodyTooLarge: 413,
    e.UnsupportedMediaType: 415,
    e.ValidationFailed: 422,
    e.NotFound: 404,
    e.Gone: 410,
    e.Unavailable: 503,
    e.SourceError: 502,
    e.ProvisioningError: 502,  # a provider refused or failed a booking step (the saga reports it; no route raises it)
    e.ProviderUnavailable: 503,
    e.PaymentDeclined: 402,  # a card refused (the saga reports it as the booking's reason; no route raises it)
    e.Unauthorized: 401,
    e.Forbidden: 403,
    e.Conflict: 409,
    e.TooManyRequests: 429,
    e.DomainError: 400,
}


def status_for(exc: e.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400  # pragma: no cover - DomainError is in STATUS


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


# codes answered without a DomainError class: the resolver's own (no route, an unexpected error), the front door's
# refusal, the gateway's answers (template.yaml GatewayResponses), the local HTTP front's 405, and its web front's
# answer under /app/ before `make web` has built the app
ANSWER_CODES = ("route_not_found", "internal_error", "rate_limited", "unauthorized", "forbidden", "method_not_allowed",
                "uri_too_long", "headers_too_large", "bad_request", "web_app_not_built")  # fmt: skip


def error_codes() -> list[str]:
    """Every ``error.code`` the API can answer: each DomainError class's (every domain module is imported first,
    and the OpenAPI generator has imported every function: a class defined beside its service counts too) and
    ``ANSWER_CODES``. A contract test checks the sources name no other. For the generator, not for a request."""
    import gpubroker.domain

    for info in pkgutil.walk_packages(gpubroker.domain.__path__, "gpubroker.domain."):
        importlib.import_module(info.name)
    classes: list[type[e.DomainError]] = [e.DomainError]
    codes = set(ANSWER_CODES)
    while classes:
        cls = classes.pop()
        codes.add(cls.code)
        classes.extend(cls.__subclasses__())
    return sorted(codes)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return ErrorResponse(error=ErrorDetail(code=code, message=message, details=details)).model_dump(mode="json")
