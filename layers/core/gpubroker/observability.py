"""Powertools singletons (service name, namespace and levels come from the template's Globals).

The Tracer is built on the first invocation, not at import: constructing it imports the X-Ray SDK, which
measured ~250 ms (tests/bench/bench_cold_import.py). With ``POWERTOOLS_TRACE_DISABLED=true`` it is never built.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()

F = TypeVar("F", bound=Callable[..., Any])


class LazyTracer:
    """``capture_lambda_handler`` like Powertools' Tracer, with the Tracer (and X-Ray SDK) created on first call."""

    def __init__(self) -> None:
        self._tracer: Any = None

    @property
    def enabled(self) -> bool:
        return os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() not in {"1", "true"}

    def get(self) -> Any:
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer()
        return self._tracer

    def capture_lambda_handler(self, handler: F) -> F:
        traced: list[Callable[..., Any]] = []

        @functools.wraps(handler)
        def wrapper(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            if not self.enabled:
                return handler(event, context, *args, **kwargs)
            if not traced:
                traced.append(self.get().capture_lambda_handler(handler))
            return traced[0](event, context, *args, **kwargs)

        return wrapper  # type: ignore[return-value]


tracer = LazyTracer()


D = TypeVar("D")
R = TypeVar("R")


def event_handler(
    default_deps: Callable[[], D], *, correlation_id_path: str | None = None
) -> Callable[[Callable[[dict[str, Any], Any, D], R]], Callable[..., R]]:
    """The Lambda entry point of a function that is not a REST route (schedules, streams, WebSocket routes): the
    Powertools logger context (with the correlation id at ``correlation_id_path``), tracing and metrics around
    ``fn(event, context, deps)``, where ``deps`` is the one passed in (tests) or else ``default_deps()`` from the
    composition root. The API functions' counterpart is ``gpubroker.api.resolver.api_handler``."""

    def decorate(fn: Callable[[dict[str, Any], Any, D], R]) -> Callable[..., R]:
        @logger.inject_lambda_context(correlation_id_path=correlation_id_path)
        @tracer.capture_lambda_handler
        @metrics.log_metrics
        @functools.wraps(fn)
        def lambda_handler(event: dict[str, Any], context: Any, deps: D | None = None) -> R:
            return fn(event, context, deps if deps is not None else default_deps())

        return lambda_handler

    return decorate
