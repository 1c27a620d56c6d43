"""Schemathesis hooks for the local-stack run (loaded with SCHEMATHESIS_HOOKS=tests.e2e.st_hooks).

A query string carries only text: a negative case that turns a free-text string parameter (``q``, ``region``,
``cursor``) into a number or boolean sends the same characters a user may legitimately type ("4090"), so the
API cannot (and must not) reject it. Such cases are filtered out; every other mutation is kept.
"""

from __future__ import annotations

import os
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


# The run is one signed-in client (tests/e2e/test_schemathesis.py): schemathesis.toml gives the protected
# operations its session through their security schemes (so the missing-auth check can drop them); the public
# ones get the same headers here, so the run is held to that client's plan rate (enterprise), not to the
# anonymous per-IP rate of 10/s that a fuzzer on one address would spend in a moment.
PUBLIC_SESSION = {
    "Authorization": f"Bearer {os.environ.get('GPUBROKER_E2E_TOKEN', '')}",
    "Cookie": f"__Host-gpb_fgp={os.environ.get('GPUBROKER_E2E_FINGERPRINT', '')}",
}


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if os.environ.get("GPUBROKER_E2E_TOKEN") and not case.operation.definition.raw.get("security"):
        case.headers = {**(case.headers or {}), **PUBLIC_SESSION}
