"""``stream_push_bookings`` on stream events: a status change to an intermediate status is pushed (the public view,
``checkout_url`` included, never the connection details); an unchanged status, an outcome (the saga's Notify and
the cancel route push those) and a removal push nothing; a record that cannot be read, or whose push fails, is the
batch item failure (the records before it are done, none after it is tried) and nothing is raised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gpubroker.adapters.booking_store import DynamoBookingStore
from gpubroker.api.booking_models import public_view
from gpubroker.domain.bookings import Booking, BookingStatus, booking_id_for
from gpubroker.domain.money import Money
from tests.component.conftest import handler_module
from tests.events import Ctx

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
S = BookingStatus
STORE = DynamoBookingStore("bookings-test")  # its item layout only: nothing here reaches a table
ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/bookings/stream/2026-11-26T00:00:00.000"


class RecordingNotifier:
    def __init__(self, fail_for: str | None = None) -> None:
        self.views: list[dict[str, Any]] = []
        self.bookings: list[Booking] = []
        self.fail_for = fail_for

    def notify(self, booking: Booking) -> int:
        if booking.booking_id == self.fail_for:
            raise RuntimeError("ProvisionedThroughputExceededException")
        self.bookings.append(booking)
        self.views.append(public_view(booking))
        return 2

    def heard(self) -> list[tuple[str, str]]:
        return [(v["booking_id"][-4:], v["status"]) for v in self.views]


def booking(key: str, status: BookingStatus = S.PENDING, version: int = 0, **kw: Any) -> Booking:
    return Booking(booking_id=booking_id_for("u-alice", key), user_id="u-alice", offer_id="runpod-a100-1",
                   provider="runpod", gpu_model="A100", gpu_count=1, hours=2, status=status, created_at=T0,
                   updated_at=T0 + timedelta(seconds=version), version=version, **kw)  # fmt: skip


def image(b: Booking) -> dict[str, Any]:
    """A booking as the table holds it (DynamoDB JSON), which is what a stream image carries."""
    return {**STORE._key(b.user_id, b.booking_id), **STORE._attrs(b), **STORE._connection_attrs(b)}


def record(name: str, old: Booking | dict[str, Any] | None, new: Booking | dict[str, Any] | None, seq: int | None
           ) -> dict[str, Any]:  # fmt: skip
    ddb: dict[str, Any] = {"ApproximateCreationDateTime": 1795694400.0, "SizeBytes": 512,
                           "StreamViewType": "NEW_AND_OLD_IMAGES"}  # fmt: skip
    if seq is not None:
        ddb["SequenceNumber"] = str(seq).rjust(21, "0")
    for key, value in (("OldImage", old), ("NewImage", new)):
        if value is not None:
            ddb[key] = image(value) if isinstance(value, Booking) else value
    some = new if new is not None else old
    if isinstance(some, Booking):
        ddb["Keys"] = STORE._key(some.user_id, some.booking_id)
    return {"eventID": f"e{seq}", "eventName": name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1", "dynamodb": ddb,
            "eventSourceARN": ARN}  # fmt: skip


def seq(n: int) -> str:
    return str(n).rjust(21, "0")


def run(records: list[dict[str, Any]], notifier: RecordingNotifier | None = None
        ) -> tuple[dict[str, Any], RecordingNotifier]:  # fmt: skip
    from gpubroker.adapters.booking_store import booking_from_item

    mod = handler_module("stream_push_bookings")
    notifier = notifier or RecordingNotifier()
    out = mod.lambda_handler({"Records": records}, Ctx(), deps=mod.Deps(read=booking_from_item, notifier=notifier))
    return out, notifier


def saga(key: str) -> list[Booking]:
    """One booking's writes through the Checkout path: every status, plus same-status writes in between."""
    b0 = booking(key)
    b1 = b0.with_status(S.PRICE_LOCKED, T0, price_per_hour=Money(250, "usd"), amount=Money(500, "usd"))
    b2 = b1.with_status(S.RESERVED, T0, instance_id="i-1")
    b3 = b2.with_status(S.RESERVED, T0, payment_intent_id="pi_1")  # same status: a recorded id
    b4 = b3.with_status(S.AWAITING_PAYMENT, T0, checkout_url="https://checkout.test/cs_1", task_token="tok")
    b5 = b4.with_status(S.CHARGED, T0, checkout_url=None, task_token=None)
    b6 = b5.with_status(S.CONFIRMED, T0, confirmed_at=T0, connection={"host": "10.0.0.7", "ssh_key": "secret"})
    return [b0, b1, b2, b3, b4, b5, b6]


def test_each_intermediate_status_change_is_pushed_once_and_the_outcome_is_left_to_the_saga() -> None:
    w = saga("a")
    records = [record("INSERT", None, w[0], 1)] + [record("MODIFY", w[i - 1], w[i], i + 1) for i in range(1, len(w))]
    out, notifier = run(records)
    assert notifier.heard() == [(w[0].booking_id[-4:], s) for s in
                                ("pending", "price_locked", "reserved", "awaiting_payment", "charged")]  # fmt: skip
    assert notifier.views[3]["checkout_url"] == "https://checkout.test/cs_1"
    assert all("connection" not in v and "task_token" not in v for v in notifier.views)
    assert (out["pushed"], out["reached"], out["skipped"], out["batchItemFailures"]) == (5, 10, 2, [])


@pytest.mark.parametrize("outcome", [S.CONFIRMED, S.FAILED, S.NEEDS_ATTENTION, S.CANCELLED])
def test_outcomes_unchanged_statuses_and_removals_push_nothing(outcome: BookingStatus) -> None:
    b = booking("b", S.CHARGED, 5)
    done = b.with_status(outcome, T0, reason="step_failed" if outcome is S.FAILED else None)
    same = b.with_status(S.CHARGED, T0, payment_intent_id="pi_2")
    records = [record("MODIFY", b, done, 1), record("MODIFY", b, same, 2), record("REMOVE", done, None, 3),
               record("INSERT", None, booking("c", outcome), 4)]  # fmt: skip
    out, notifier = run(records)
    assert notifier.views == [] and out["skipped"] == 4 and out["batchItemFailures"] == []


def test_connection_details_in_an_image_are_never_pushed() -> None:
    b = booking("d", S.RESERVED, 2, connection={"host": "10.0.0.7", "password": "hunter2"})  # a plain one
    out, notifier = run([record("MODIFY", booking("d", S.PRICE_LOCKED, 1), b, 1)])
    assert out["pushed"] == 1 and notifier.bookings[0].connection is None
    assert "hunter2" not in repr(notifier.views)


def malformed(b: Booking, **changes: Any) -> dict[str, Any]:
    item = image(b)
    for key, value in changes.items():
        if value is None:
            item.pop(key)
        else:
            item[key] = value
    return item


@pytest.mark.parametrize(
    "bad",
    [
        {"status": {"S": "teleported"}},  # not a status
        {"status": None},  # no status at all
        {"gpu_count": {"N": "two"}},  # a field that does not read
        {"created_at": {"S": "yesterday"}},
        {"offer_id": None},  # a required field missing
    ],
    ids=["unknown-status", "no-status", "bad-number", "bad-time", "missing-field"],
)
def test_an_unreadable_record_is_the_batch_item_failure_and_nothing_after_it_is_pushed(bad: dict[str, Any]) -> None:
    first, after = booking("e"), booking("f")
    broken = malformed(booking("g", S.RESERVED, 2), **bad)
    out, notifier = run([record("INSERT", None, first, 1), record("MODIFY", image(booking("g", S.PRICE_LOCKED, 1)),
                         broken, 2), record("INSERT", None, after, 3)])  # fmt: skip
    assert out["batchItemFailures"] == [{"itemIdentifier": seq(2)}] and out["stage"] == "read"
    assert [b.booking_id for b in notifier.bookings] == [first.booking_id]  # the retry starts at record 2


def test_a_first_record_without_its_image_or_name_is_reported_not_raised() -> None:
    no_image = record("MODIFY", booking("h"), None, 7)
    out, notifier = run([no_image, record("INSERT", None, booking("i"), 8)])
    assert out["batchItemFailures"] == [{"itemIdentifier": seq(7)}] and notifier.views == []
    nameless = record("INSERT", None, booking("j"), None)
    del nameless["eventName"]
    out, _ = run([nameless])  # no sequence number either: an empty identifier fails the whole batch (AWS's rule)
    assert out["batchItemFailures"] == [{"itemIdentifier": ""}]
    out, _ = run(["not a record"])  # type: ignore[list-item]
    assert out["batchItemFailures"] == [{"itemIdentifier": ""}] and out["stage"] == "read"


def test_a_failed_push_is_retried_from_its_record_without_repeating_the_ones_before() -> None:
    ok, failing, later = booking("k"), booking("l"), booking("m")
    records = [record("INSERT", None, b, n) for n, b in enumerate((ok, failing, later), start=1)]
    out, notifier = run(records, RecordingNotifier(fail_for=failing.booking_id))
    assert out["batchItemFailures"] == [{"itemIdentifier": seq(2)}] and out["stage"] == "push"
    assert [b.booking_id for b in notifier.bookings] == [ok.booking_id]
    out, notifier = run(records[1:])  # Lambda's retry from the reported record
    assert [b.booking_id for b in notifier.bookings] == [failing.booking_id, later.booking_id]
    assert out["batchItemFailures"] == []
