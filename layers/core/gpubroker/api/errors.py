"""The one place domain errors become HTTP: by class hierarchy, never by message text."""

from __future__ import annotations

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


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return ErrorResponse(error=ErrorDetail(code=code, message=message, details=details)).model_dump(mode="json")
