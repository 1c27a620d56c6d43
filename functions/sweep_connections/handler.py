"""Scheduled (every minute): remove the WebSocket connections silent for more than 90 s - their items and
subscriptions deleted, their sockets closed through ``@connections`` (a GoneException is fine)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import SweepSettings
from gpubroker.observability import event_handler, logger, metrics
from gpubroker.services.connections import sweep_silent
from gpubroker.wiring.realtime import SweepDeps, sweep_deps

Settings = SweepSettings
Deps = SweepDeps


@event_handler(sweep_deps)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    report = sweep_silent(connections=deps.connections, closer=deps.closer, clock=deps.clock,
                          concurrency=deps.concurrency)  # fmt: skip
    logger.info("sweep", extra=asdict(report))
    metrics.add_metric(name="WebSocketSwept", unit="Count", value=report.swept)
    return asdict(report)
