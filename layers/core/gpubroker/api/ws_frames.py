"""The bounds on a WebSocket message, checked by every function that reads one (``subscribe``, ``ping``,
``$default``) and by the local stack's WebSocket front before it selects a route: the REST front door's
(``body_guard``: nesting depth, digit runs) with API Gateway's own size limits in place of Lambda's.

API Gateway closes a connection with 1009 on a frame over 32 KB or a message over 128 KB (its WebSocket quotas), so
a larger message never reaches a function in AWS; the functions refuse one anyway, should a front let it through."""

from __future__ import annotations

from typing import Any

from gpubroker.api.body_guard import check_body
from gpubroker.domain.errors import DomainError
from gpubroker.domain.subscriptions import ErrorReply, error_message

MAX_FRAME_BYTES = 32 * 1024
MAX_MESSAGE_BYTES = 128 * 1024


def check_message(body: str | None) -> None:
    """Raise ``BodyTooLarge``/``BodyTooDeep``/``NumberTooLong`` for a message past the bounds; else nothing."""
    check_body({"body": body, "isBase64Encoded": False}, max_bytes=MAX_MESSAGE_BYTES)


def message_refusal(event: dict[str, Any]) -> ErrorReply | None:
    """The ``error`` reply to a WebSocket message event whose body is past the bounds (``body_too_deep``,
    ``number_too_long``, ``body_too_large``), or None for one a route may parse."""
    try:
        check_message(event.get("body"))
    except DomainError as exc:
        return error_message(exc.code, exc.message, exc.details)
    return None
