"""Scheduled: re-append the entries waiting in the audit spool (appends that failed at request time), then sign a
checkpoint (shard, size, head, time, prev) with the KMS key for every audit shard that grew, write it to the table
and publish it to the Object Lock bucket.

Raises ``AuditTampered`` (a failed run, metric ``AuditTampered``) when a shard's new entries do not extend its
last signed checkpoint, or the bucket holds a newer checkpoint than the table: nothing is signed over a tampered
tail, nor re-anchored after deleted checkpoints.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import AuditCheckpointSettings
from gpubroker.domain.audit import AuditTampered
from gpubroker.observability import event_handler, logger, metrics
from gpubroker.services.audit import replay_spooled, write_checkpoints
from gpubroker.wiring.audit import CheckpointDeps, checkpoint_deps

Settings = AuditCheckpointSettings
Deps = CheckpointDeps


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
    report = {
        "replayed": replayed,
        "written": [
            {"shard": s.checkpoint.shard, "size": s.checkpoint.size, "head": s.checkpoint.head} for s in written
        ],
    }
    logger.info("audit checkpoints signed", extra=report)
    return report
