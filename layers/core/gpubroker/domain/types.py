"""Shared field types for request bodies validated in strict mode."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator


def _integral(value: Any) -> Any:
    """JSON Schema's "integer" includes 4.0: accept integral floats as ints (strict mode would refuse them)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Int = Annotated[int, BeforeValidator(_integral)]
