"""The bookings table's stream -> the booking's intermediate statuses pushed to its owner's connections.

A record is pushed when it is an ``INSERT`` or ``MODIFY`` whose ``status`` changed (the old image's, none for an
insert, differs from the new image's) to a status the saga is still working on: ``pending``, ``price_locked``,
``reserved``, ``awaiting_payment`` (its ``checkout_url`` in the view), ``charged``. The outcome (``SAGA_DONE``:
``confirmed``, ``failed``, ``needs_attention``, ``cancelled``) is pushed by the saga's Notify/NotifyFailed steps and
the cancel route, so it is skipped here: one push per status, never two (docs/decisions.md "Booking status
pushes"). A write that keeps the status (a recorded payment intent, a version bump) pushes nothing.

The booking comes from the new image (``read``: the store's item -> Booking conversion, without the key: the
connection details are never opened, and dropped before the push anyway). Records are handled in order; the
first one that cannot be read, or whose push fails (the connections query), stops the batch: its
``SequenceNumber`` is the partial batch response (``ReportBatchItemFailures``), the records before it are done and
Lambda retries from it, never repeating a push already made. Nothing is raised for a record.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from gpubroker.domain.bookings import SAGA_DONE, Booking, BookingStatus
from gpubroker.ports import BookingNotifier

log = logging.getLogger(__name__)

ImageReader = Callable[[Mapping[str, Any]], Booking]
"""A bookings-table item (DynamoDB JSON) -> its Booking (``adapters.booking_store.booking_from_item``)."""

CHANGES: Final = frozenset({"INSERT", "MODIFY"})


@dataclass(frozen=True)
class PushReport:
    """What a batch did: bookings pushed, connections reached, records with nothing to push; and the first record
    not done (its sequence number, its index, why; ``stage`` ``read`` or ``push``)."""

    pushed: int = 0
    reached: int = 0
    skipped: int = 0
    failed_at: str | None = None
    failed_index: int = 0
    stage: str = ""
    reason: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.reason)

    def batch_item_failures(self) -> list[dict[str, str]]:
        """The partial batch response: the first failed record's sequence number (an empty one, when the record
        had none, fails the whole batch, as Lambda documents)."""
        return [{"itemIdentifier": self.failed_at or ""}] if self.failed else []


def _status(image: Mapping[str, Any] | None) -> str | None:
    if not image or "status" not in image:
        return None
    return str(image["status"]["S"])


def status_change(record: Mapping[str, Any], read: ImageReader) -> Booking | None:
    """The booking to push for one stream record, or None (a removal, an unchanged status, an outcome). Raises
    (KeyError, TypeError, ValueError) on a record it cannot read."""
    if record["eventName"] not in CHANGES:
        return None
    ddb = record["dynamodb"]
    new = ddb["NewImage"]
    status = BookingStatus(new["status"]["S"])
    if status in SAGA_DONE or _status(ddb.get("OldImage")) == status.value:
        return None
    booking = read(new)
    if booking.status is not status:
        raise ValueError(f"image status {status} read as {booking.status}")
    return dataclasses.replace(booking, connection=None)  # never pushed, whatever the image held


def _sequence(record: Any) -> str:
    try:
        return str(record["dynamodb"]["SequenceNumber"] or "")
    except (KeyError, TypeError):
        return ""


def push_status_changes(event: Mapping[str, Any], *, read: ImageReader, notifier: BookingNotifier) -> PushReport:
    """Push each record's intermediate status change, in order, until the first record that fails."""
    pushed = reached = skipped = 0

    def stop(index: int, record: Any, stage: str, exc: Exception) -> PushReport:
        sequence = _sequence(record)
        log.error("booking stream record %s (index %d) not %s: %r", sequence, index,
                  "read" if stage == "read" else "pushed", exc)  # fmt: skip
        return PushReport(pushed, reached, skipped, failed_at=sequence or None, failed_index=index, stage=stage,
                          reason=f"{type(exc).__name__}: {exc}")  # fmt: skip

    for index, record in enumerate(event.get("Records") or []):
        try:
            booking = status_change(record, read)
        except Exception as exc:  # any record this code cannot interpret is a poison record, whatever the cause
            return stop(index, record, "read", exc)
        if booking is None:
            skipped += 1
            continue
        try:
            reached += notifier.notify(booking)
        except Exception as exc:  # the owner's connections could not be listed: retry from this record
            return stop(index, record, "push", exc)
        pushed += 1
    return PushReport(pushed, reached, skipped)
