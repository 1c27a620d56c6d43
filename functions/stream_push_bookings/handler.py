"""Bookings table stream -> each intermediate status change (pending .. charged, awaiting_payment with its
checkout_url) pushed to the owner's signed-in WebSocket connections as ``{"type": "booking", ...}``.

Event: a DynamoDB Streams batch (NEW_AND_OLD_IMAGES). The outcome statuses are pushed by the saga's Notify steps
and the cancel route, not here (``gpubroker.services.booking_stream``). Failures (``ReportBatchItemFailures``,
``BisectBatchOnFunctionError``, an ``OnFailure`` destination): the first record that cannot be read or pushed is
returned in ``batchItemFailures`` (Lambda retries from it; after its retries its batch info goes to
BookingPushDeadLetterQueue); nothing is raised for a record.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import BookingStreamSettings
from gpubroker.observability import event_handler, metrics
from gpubroker.services.booking_stream import push_status_changes
from gpubroker.wiring.bookings import BookingStreamDeps, booking_stream_deps

Settings = BookingStreamSettings
Deps = BookingStreamDeps


@event_handler(booking_stream_deps)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    report = push_status_changes(event, read=deps.read, notifier=deps.notifier)
    metrics.add_metric(name="BookingStatusPushes", unit="Count", value=report.pushed)
    if report.failed:
        name = "UnreadableStreamRecords" if report.stage == "read" else "BookingPushFailures"
        metrics.add_metric(name=name, unit="Count", value=1)
    return {**asdict(report), "batchItemFailures": report.batch_item_failures()}
