"""What the client raises: one base class, the API's own error code when the API answered."""

from __future__ import annotations

from typing import Any


class GpuBrokerError(Exception):
    """Anything the client raises on purpose."""


class ApiError(GpuBrokerError):
    """The API answered with an error: its HTTP status and the body's machine-readable ``code``."""

    def __init__(
        self, status: int, code: str, message: str, details: Any = None, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.details, self.retry_after = (
            status,
            code,
            message,
            details,
            retry_after,
        )


class ApiUnreachable(GpuBrokerError):
    """No answer at all: refused, timed out, the name did not resolve."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the GPUBroker API at {url}: {reason}")
        self.url, self.reason = url, reason


class NotSignedIn(GpuBrokerError):
    """A route that needs a session was called without one (or its refresh token has expired)."""


def describe(exc: BaseException) -> str:
    """A transport failure in a few words, without the errno prefix (and never empty)."""
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
        return "timed out"
    text = str(exc).strip()
    return text.split("] ", 1)[-1] if text.startswith("[Errno") else text or type(exc).__name__
