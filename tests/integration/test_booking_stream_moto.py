"""The bookings table's real stream (moto, provisioned from template.yaml with its StreamSpecification): the store's
writes through a Checkout booking, read back from the stream in Lambda's event shape (``infra.local.streams``),
given to ``stream_push_bookings`` on its real adapters (the image reader, the notifier on the connections table's
``by_user`` index): the owner's connections hear each intermediate status once, in order, another user's hear
nothing, the outcome is not pushed (the saga's Notify does it) and the connection details never are."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from gpubroker.adapters.aws import client
from gpubroker.adapters.booking_push import WebSocketBookingNotifier
from gpubroker.adapters.booking_store import DynamoBookingStore, booking_from_item
from gpubroker.api.booking_models import public_view
from gpubroker.domain.bookings import Booking, BookingStatus, booking_id_for
from gpubroker.domain.money import Money
from infra.local.streams import stream_event
from tests.component.conftest import handler_module
from tests.events import Ctx
from tests.integration.conftest import Endpoint
from tests.integration.test_bookings_dynamo import RecordingPoster

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("aws")]

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
S = BookingStatus


def stream_records(table: str, booking_id: str) -> tuple[list[dict[str, Any]], str]:
    """Every record of ``booking_id`` on the table's stream, from the start of each shard, as boto3 parses them."""
    arn = client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = client("dynamodbstreams")
    out: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        page = streams.get_records(ShardIterator=it["ShardIterator"], Limit=1000)
        out += [r for r in page["Records"] if r["dynamodb"]["Keys"]["booking_id"]["S"] == booking_id]
    return out, arn


def test_the_owner_hears_each_intermediate_status_from_the_real_stream(
    endpoint: Endpoint, own_connections: Callable[..., None]
) -> None:
    run = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{run}", f"bob-{run}"
    connections = endpoint.names["ConnectionsTable"]
    for cid, user in ((f"a1-{run}", alice), (f"b1-{run}", bob), (f"anon-{run}", None)):
        own_connections(cid, at=T0, user_id=user)
    store = DynamoBookingStore(endpoint.names["BookingsTable"])
    b = Booking(booking_id=booking_id_for(alice, run), user_id=alice, offer_id="runpod-a100-1", provider="runpod",
                gpu_model="A100", gpu_count=1, hours=2, status=S.PENDING, created_at=T0, updated_at=T0)  # fmt: skip
    writes: list[Callable[[Booking], Booking]] = [
        lambda p: p.with_status(S.PRICE_LOCKED, T0, price_per_hour=Money(250, "usd"), amount=Money(500, "usd")),
        lambda p: p.with_status(S.RESERVED, T0, instance_id="i-1"),
        lambda p: p.with_status(S.RESERVED, T0, payment_intent_id="pi_1"),  # same status: nothing to push
        lambda p: p.with_status(S.AWAITING_PAYMENT, T0, checkout_url="https://checkout.test/cs", task_token="t"),
        lambda p: p.with_status(S.CHARGED, T0, checkout_url=None, task_token=None),
        lambda p: p.with_status(S.CONFIRMED, T0, confirmed_at=T0, connection={"host": "10.0.0.7", "pw": "hunter2"}),
    ]
    assert store.create(b)
    current = b
    for write in writes:
        current = write(current)
        assert store.save(current)
    records, arn = stream_records(endpoint.names["BookingsTable"], b.booking_id)
    assert [r["eventName"] for r in records] == ["INSERT"] + ["MODIFY"] * len(writes)
    poster = RecordingPoster()
    mod = handler_module("stream_push_bookings")
    deps = mod.Deps(read=booking_from_item, notifier=WebSocketBookingNotifier(connections, poster, view=public_view))
    out = mod.lambda_handler(stream_event(records, arn), Ctx(), deps=deps)
    assert out["batchItemFailures"] == [] and (out["pushed"], out["reached"], out["skipped"]) == (5, 5, 2)
    assert {cid for cid, _ in poster.sent} == {f"a1-{run}"}  # never bob's, never the anonymous one
    heard = [m["booking"] for _, m in poster.sent]
    assert [m["status"] for m in heard] == ["pending", "price_locked", "reserved", "awaiting_payment", "charged"]
    assert heard[3]["checkout_url"] == "https://checkout.test/cs" and all(
        m["type"] == "booking" for _, m in poster.sent
    )
    assert "hunter2" not in repr(poster.sent) and all("connection" not in m for m in heard)
