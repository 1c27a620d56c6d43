"""Scheduled: re-append the entries waiting in the audit spool (appends that failed at request time), then sign a
checkpoint (shard, size, head, time, prev) with the KMS key for every audit shard that grew, write it to the table
and publish it to the Object Lock bucket.

Raises ``AuditTampered`` (a failed run, metric ``AuditTampered``) when a shard's new entries do not extend its
last signed checkpoint, or the bucket holds a newer checkpoint than the table: nothing is signed over a tampered
tail, nor re-anchored after deleted checkpoints. Then advances the rolling full verification by up to
``SWEEP_PAGES`` pages from its stored marker: an entry edited after a checkpoint covered it is found within one
cycle (metric ``AuditTampered`` and an error log when a completed cycle found a break).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import AuditCheckpointSettings
from gpubroker.domain.audit import AuditTampered
from gpubroker.observability import event_handler, logger, metrics
from gpubroker.services.audit import VerifyBudget, replay_spooled, sweep, write_checkpoints
from gpubroker.wiring.audit import CheckpointDeps, checkpoint_deps

Settings = AuditCheckpointSettings
Deps = CheckpointDeps
SWEEP_PAGES = 100
"""Pages (1,000 entries each) of the rolling full verification per run: 1,000,000 entries in 10 runs (50 min)."""


@event_handler(checkpoint_deps)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    replayed = replay_spooled(deps.log, deps.spool) if deps.spool is not None else 0
    metrics.add_metric(name="AuditEntriesReplayed", unit=MetricUnit.Count, value=replayed)
    try:
        written = write_checkpoints(deps.log, deps.signer, deps.clock.now(), deps.archive)
    except AuditTampered as exc:
        metrics.add_metric(name="AuditTampered", unit=MetricUnit.Count, value=1)
        logger.error("audit log tampered: no checkpoint signed", extra={"details": exc.details})
        raise
    metrics.add_metric(name="AuditCheckpointsWritten", unit=MetricUnit.Count, value=len(written))
    report: dict[str, Any] = {
        "replayed": replayed,
        "written": [
            {"shard": s.checkpoint.shard, "size": s.checkpoint.size, "head": s.checkpoint.head} for s in written
        ],
    }
    if deps.marker is not None:
        budget = VerifyBudget(time_left_ms=context.get_remaining_time_in_millis, max_pages=SWEEP_PAGES)
        swept = sweep(deps.log, deps.signer, deps.marker, archive=deps.archive, budget=budget)
        report["sweep"] = {"entries_read": swept.entries_read, "complete": swept.complete, "ok": swept.ok}
        if swept.complete and not swept.ok:
            metrics.add_metric(name="AuditTampered", unit=MetricUnit.Count, value=1)
            broken = [r.model_dump() for r in swept.shards if not r.ok]
            logger.error("audit log tampered: found by the rolling verification", extra={"details": broken})
    logger.info("audit checkpoints signed", extra=report)
    return report
