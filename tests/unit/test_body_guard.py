"""The front door's body bounds, on raw text (no parsing, no recursion)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from gpubroker.api.body_guard import MAX_BODY_BYTES, MAX_DEPTH, MAX_NUMBER_DIGITS, check_body
from gpubroker.domain.errors import BodyTooDeep, BodyTooLarge, NumberTooLong


def _ev(body: str | None, *, b64: bool = False) -> dict[str, Any]:
    if b64 and body is not None:
        return {"body": base64.b64encode(body.encode()).decode(), "isBase64Encoded": True}
    return {"body": body, "isBase64Encoded": False}


def test_the_depth_bound_is_exact() -> None:
    check_body(_ev("[" * MAX_DEPTH + "]" * MAX_DEPTH))
    with pytest.raises(BodyTooDeep):
        check_body(_ev("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)))
    with pytest.raises(BodyTooDeep):
        check_body(_ev("[" * (MAX_DEPTH + 1), b64=True))


def test_brackets_and_digits_inside_strings_do_not_count() -> None:
    check_body(_ev(json.dumps({"q": "[{" * 500 + '\\"' + "9" * 5000})))
    check_body(_ev(json.dumps({"a": "x\\", "b": "[[[[" * 100})))


def test_the_digit_bound_is_exact() -> None:
    check_body(_ev('{"n": ' + "1" * MAX_NUMBER_DIGITS + "}"))
    check_body(_ev('{"n": 1.' + "5" * MAX_NUMBER_DIGITS + "}"))
    with pytest.raises(NumberTooLong):
        check_body(_ev('{"n": ' + "1" * (MAX_NUMBER_DIGITS + 1) + "}"))


def test_the_size_bound_counts_utf8_bytes() -> None:
    check_body(_ev(None))
    check_body(_ev(""))
    check_body(_ev('"' + "x" * (MAX_BODY_BYTES - 2) + '"'))
    with pytest.raises(BodyTooLarge):
        check_body(_ev('"' + "x" * (MAX_BODY_BYTES - 1) + '"'))
    with pytest.raises(BodyTooLarge):
        check_body(_ev('"' + "\u00e9" * (MAX_BODY_BYTES // 2) + '"'))  # fewer characters than bytes
    with pytest.raises(BodyTooLarge):
        check_body(_ev("x" * (MAX_BODY_BYTES + 1), b64=True))


def test_the_largest_legitimate_math_body_passes() -> None:
    """A TOPSIS matrix of 10,000 x 32 two-decimal values (2.2 MB), the largest body a route takes in practice."""
    matrix = [[round(i * 0.37 + j, 2) for j in range(32)] for i in range(10_000)]
    body = json.dumps({"matrix": matrix, "weights": [1.0] * 32, "types": ["cost"] * 32})
    assert len(body) < MAX_BODY_BYTES
    check_body(_ev(body))
