"""The part of the client that does no I/O: what a call is, and what to do with each answer (return it, retry
after how long, refresh the session first, or raise). The sync and async clients differ only in how they wait."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from gpubroker_client.errors import ApiError

T = TypeVar("T")

DEFAULT_API = "http://127.0.0.1:3000"
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API request and the type of its answer."""

    method: str
    path: str
    answer: TypeAdapter[T]
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: bool = False  # the route needs the session

    @property
    def replayable(self) -> bool:
        """Safe to send again after a lost answer: an idempotent method, or a POST with an Idempotency-Key."""
        return self.method in IDEMPOTENT or "Idempotency-Key" in self.headers


def query(params: dict[str, Any]) -> list[tuple[str, str | int | float | bool | None]]:
    """Query parameters as the API reads them: lists repeated, booleans lower-case, None left out."""
    out: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in params.items():
        for v in value if isinstance(value, list | tuple) else [value]:
            if v is not None:
                out.append((name, str(v).lower() if isinstance(v, bool) else str(v)))
    return out


@dataclass(frozen=True)
class RetryPolicy:
    """Retries 429 and 502-504 answers, and answers lost on the way for replayable calls: ``Retry-After`` when the
    API gives one (capped at ``max_wait_s``), else exponential backoff with full jitter. A connection that cannot be
    made at all (refused, no such host) is not retried: nothing is there to wait for, and a script learns it at once."""

    max_retries: int = 3
    backoff_s: float = 0.5
    max_wait_s: float = 30.0

    def delay(
        self, call: Call[Any], attempt: int, response: httpx.Response | None, error: Exception | None = None
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1`` (after ``response``, or ``error`` when none came), or
        None: do not retry."""
        if attempt >= self.max_retries or isinstance(error, httpx.ConnectError):
            return None
        if response is None:
            return self._backoff(attempt) if call.replayable else None
        if response.status_code not in RETRY_STATUSES:
            return None
        if response.status_code in {502, 504} and not call.replayable:
            return None
        after = retry_after(response.headers.get("Retry-After"))
        if after is not None:
            return float(min(after, self.max_wait_s))
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_wait_s, self.backoff_s * 2**attempt))


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def api_error(response: httpx.Response) -> ApiError:
    """The API's error body ``{"error": {"code", "message", "details"}}`` as an exception (a body that is not one,
    e.g. a proxy's page, still gives the status)."""
    try:
        body = response.json()
        err = body["error"]
        code, message, details = str(err["code"]), str(err.get("message") or ""), err.get("details")
    except (ValueError, KeyError, TypeError):
        code, message, details = f"http_{response.status_code}", response.reason_phrase or "error", None
    return ApiError(response.status_code, code, message, details, retry_after(response.headers.get("Retry-After")))


def decode(call: Call[T], response: httpx.Response) -> T:
    if response.is_success:
        try:
            return call.answer.validate_json(response.content)
        except ValidationError as exc:
            raise ApiError(response.status_code, "unexpected_answer", f"{call.method} {call.path}: {exc}") from exc
    raise api_error(response)
