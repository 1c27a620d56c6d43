"""Schemathesis hooks for the local-stack run (loaded with SCHEMATHESIS_HOOKS=tests.e2e.st_hooks).

A query string carries only text: a negative case that turns a free-text string parameter (``q``, ``region``,
``cursor``) into a number or boolean sends the same characters a user may legitimately type ("4090"), so the
API cannot (and must not) reject it. Such cases are filtered out; every other mutation is kept.
"""

from __future__ import annotations

from typing import Any

import schemathesis

FREE_TEXT = {"q", "region", "cursor"}


def _is_text(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(v, str) for v in value)
    return isinstance(value, str)


@schemathesis.hook
def filter_query(ctx: Any, query: dict[str, Any] | None) -> bool:
    return not query or all(_is_text(v) for k, v in query.items() if k in FREE_TEXT)
