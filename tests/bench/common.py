"""What every benchmark (``tests/bench/bench_*.py``) shares.

- ``--quick`` (:func:`add_quick`): tiny sizes, no peer libraries (the ``bench`` dependency group), no timing
  targets. It proves the benchmark still runs end to end, so a broken one is caught by ``make test``
  (``tests/bench/test_quick.py`` runs every benchmark so, each in its own process); ``make bench`` runs them in
  full. :func:`verdict` turns a run into the exit status: the targets decide a full run; a quick run passes once
  it got this far (every answer checked on the way).
- A loud check of every answer: a benchmark that times refusals measures the wrong thing (``bench_offers_search``
  once timed 4,191 HTTP 429s out of 4,200 requests and reported their p50 as the search's). :func:`assert_2xx`
  raises :class:`BadAnswer` at the first answer outside 2xx, naming it; :class:`InProcess` calls a handler the
  way Lambda does, checking each answer.
- The unlimited front door: an in-process handler is given ``UNLIMITED`` (``tests/fakes.py``) and
  :class:`InProcess` refuses deps with any other limiter, so the plan's rate limit (Redis, shared with every
  process on the machine) is never what a benchmark measures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT, ROOT / "layers" / "core", ROOT / "layers" / "math"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from tests.fakes import UNLIMITED, Unlimited  # noqa: E402

__all__ = ["UNLIMITED", "BadAnswer", "InProcess", "add_quick", "assert_2xx", "verdict"]


class BadAnswer(AssertionError):
    """An answer outside 2xx where a benchmark expects success: the run stops here."""


def assert_2xx(status: int, body: Any, what: str) -> None:
    """Raise :class:`BadAnswer` unless ``200 <= status < 300`` (``body`` is shown, cut to 500 characters)."""
    if not 200 <= int(status) < 300:
        shown = body if isinstance(body, str) else json.dumps(body, default=str)
        raise BadAnswer(f"{what}: HTTP {status} (a benchmark times successes only): {shown[:500]}")


def add_quick(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, no peer libraries, no timing targets: only proves the benchmark runs (make test)",
    )
    return parser


def verdict(met: bool, *, quick: bool) -> int:
    """The exit status: a full run passes when its targets are met; a quick run when it ran to the end."""
    if quick:
        print("quick run: it ran, every answer was checked; timing targets are not (make bench checks them)")
        return 0
    return 0 if met else 1


class InProcess:
    """A function's ``lambda_handler`` called in-process with ``deps`` (which must carry the unlimited front
    door), every answer checked by :func:`assert_2xx`."""

    def __init__(self, module: str, deps: Any) -> None:
        from infra.local.runtime import LambdaContext

        front_door = getattr(deps, "front_door", None)
        if front_door is None or not isinstance(front_door.limiter, Unlimited):
            raise BadAnswer(f"{module}: in-process benchmarks run with the unlimited front door (tests.fakes)")
        self._module = module
        self._fn = importlib.import_module(module).lambda_handler
        self._deps = deps
        self._context = LambdaContext
        self.calls = 0

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        context = self._context(function_name=self._module.split(".")[1])  # a request id per call, as in Lambda
        response: dict[str, Any] = self._fn(event, context, deps=self._deps)
        self.calls += 1
        assert_2xx(response["statusCode"], response.get("body"), f"{self._module} {event.get('path', '')}")
        return response
