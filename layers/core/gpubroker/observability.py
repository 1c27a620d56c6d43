"""Powertools singletons (service name, namespace and levels come from the template's Globals).

The Tracer is built on the first invocation, not at import: constructing it imports the X-Ray SDK, which
measured ~250 ms (tests/bench/bench_cold_import.py). With ``POWERTOOLS_TRACE_DISABLED=true`` it is never built.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

logger = Logger()
metrics = Metrics()

CORRELATION_HEADER = "X-Correlation-Id"
"""The response header that carries the request's correlation id (API Gateway's ``requestContext.requestId``): the
same id is in the function's logs, the saga's input and every step's logs, the booking's WebSocket messages and the
audit entries of the request and of its saga (``request_id``)."""


def correlation_id() -> str | None:
    """The correlation id of the invocation being served (set by ``logger.inject_lambda_context``), if any."""
    value = logger.get_correlation_id()
    return str(value) if value else None


def publish(
    values: Mapping[str, tuple[MetricUnit, float]],
    *,
    dimensions: Mapping[str, str],
    rollups: Sequence[Mapping[str, str]] = (),
) -> None:
    """One EMF document now, with its own dimensions: ``values`` (name -> (unit, value)) under ``dimensions`` and,
    for each of ``rollups``, under that coarser set too (``service`` is added to every set). For metrics whose
    dimensions differ from the invocation's (per route, per provider, per plan): the ``metrics`` singleton's
    dimensions are shared by everything it flushes. Nothing is printed when ``POWERTOOLS_METRICS_DISABLED`` is
    set, as for the singleton."""
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "gpubroker")
    try:
        emf = EphemeralMetrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "GPUBroker")
        emf.add_dimension("service", service)
        for key, label in dimensions.items():
            emf.add_dimension(key, label or "none")
        for rollup in rollups:
            emf.add_dimensions(service=service, **{k: v or "none" for k, v in rollup.items()})
        for name, (unit, amount) in values.items():
            emf.add_metric(name=name, unit=unit, value=amount)
        emf.flush_metrics()
    except Exception:  # a metric must never fail the request it describes
        logger.warning("metrics not published", exc_info=True, extra={"metrics": sorted(values)})


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """A business counter: on the invocation's metrics when it has no dimensions of its own, else published at
    once with them and rolled up to the service (``count("OffersRejected", 12, provider="vast")``)."""
    if not dimensions:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        return
    publish({name: (MetricUnit.Count, value)}, dimensions=dimensions, rollups=[{}])


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "5xx"


def route_of(event: Mapping[str, Any]) -> str:
    """``METHOD /resource/{param}`` of an API Gateway REST event: the route's template, never the concrete path
    (one time series per route, not per booking id)."""
    method = str(event.get("httpMethod") or "?")
    return f"{method} {event.get('resource') or 'unknown'}"


def request_metrics(handler: F) -> F:
    """The per-request metrics of every API function (applied once, in ``gpubroker.api.resolver.api_handler``):
    ``Requests`` (count), ``Latency`` (ms), ``Errors`` (1 for a 5xx, else 0: its average is the 5xx rate) and
    ``ClientErrors`` (the same for 4xx), by route and status class, by route, and for the whole service."""

    @functools.wraps(handler)
    def wrapper(event: dict[str, Any], context: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        status = 500
        try:
            result = handler(event, context, *args, **kwargs)
            status = int(result.get("statusCode", 500)) if isinstance(result, dict) else 500
            return result
        finally:
            route = route_of(event if isinstance(event, dict) else {})
            klass = status_class(status)
            publish(
                {
                    "Requests": (MetricUnit.Count, 1),
                    "Latency": (MetricUnit.Milliseconds, round((time.perf_counter() - started) * 1000, 3)),
                    "Errors": (MetricUnit.Count, 1 if klass == "5xx" else 0),
                    "ClientErrors": (MetricUnit.Count, 1 if klass == "4xx" else 0),
                },
                dimensions={"route": route, "status_class": klass},
                rollups=[{"route": route}, {}],
            )

    return wrapper  # type: ignore[return-value]


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


SAGA_CORRELATION_PATH = "correlation_id || booking_id"
"""Where a saga step finds its correlation id: the creating request's (the execution's input carries it), else the
booking id (executions started before it was carried)."""

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
