"""The front door's bounds on a request body, checked on the raw text before anything parses it (docs/decisions.md).

- size: at most ``MAX_BODY_BYTES`` (Lambda's own synchronous payload limit, 6 MiB: the largest legitimate body, a
  TOPSIS matrix of 10,000 x 32 full-precision floats, is 6.5 MB and cannot reach a function on AWS either), else
  413 ``body_too_large``;
- nesting: at most ``MAX_DEPTH`` levels of ``[``/``{`` (the deepest route body is 3), else 400 ``body_too_deep``.
  A thousand levels made ``json.loads`` raise ``RecursionError`` and every route answer 502;
- numbers: no run of more than ``MAX_NUMBER_DIGITS`` digits outside strings, else 400 ``number_too_long``. An
  integer of more than 4,300 digits made Python's ``int()`` raise inside JSON parsing (a 500).

No recursion and no parsing: strings are blanked with one regular expression, then the brackets are counted."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from gpubroker.domain.errors import BodyTooDeep, BodyTooLarge, NumberTooLong

MAX_BODY_BYTES = 6 * 1024 * 1024
MAX_DEPTH = 32
MAX_NUMBER_DIGITS = 1000

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")
_LONG_DIGITS = re.compile(f"[0-9]{{{MAX_NUMBER_DIGITS + 1}}}")


def _text(event: dict[str, Any], max_bytes: int) -> str | None:
    """The body as text, size-checked; None for no body (or a base64 one that does not decode: left to the route)."""
    raw = event.get("body")
    if not raw:
        return None
    if len(raw) > max_bytes * 4 // 3 + 4:
        raise BodyTooLarge(f"the body is larger than {max_bytes} bytes", details={"max_bytes": max_bytes})
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return None
        size, text = len(data), data.decode("utf-8", "replace")
    else:
        text = str(raw)
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise BodyTooLarge(f"the body is larger than {max_bytes} bytes", details={"max_bytes": max_bytes})
    return text


def check_body(event: dict[str, Any], *, max_bytes: int = MAX_BODY_BYTES) -> None:
    """Raise ``BodyTooLarge``/``BodyTooDeep``/``NumberTooLong`` for a body past the bounds; else nothing.
    ``max_bytes``: the size bound (a WebSocket message's is API Gateway's 128 KB: ``gpubroker.api.ws_frames``)."""
    text = _text(event, max_bytes)
    if text is None:
        return
    bare = _STRING.sub('""', text)
    depth = 0
    for match in _BRACKET.finditer(bare):
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_DEPTH:
            raise BodyTooDeep(f"the body is nested deeper than {MAX_DEPTH} levels", details={"max_depth": MAX_DEPTH})
    if _LONG_DIGITS.search(bare):
        raise NumberTooLong(
            f"a number in the body has more than {MAX_NUMBER_DIGITS} digits",
            details={"max_digits": MAX_NUMBER_DIGITS},
        )
