"""The local stack's offers stream keeps nothing from the broadcaster silently: a record it cannot read ends, after
its retries, in the stream mapping's OnFailure queue (LivePricesDeadLetterQueue), which `make dead-letters`
prints with the record read back from the stream, and the writes around it are delivered (numbered in the price
feed). The stack's own stream worker, its template-read destination and its environment, end to end."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import boto3
import pytest

from infra.local.dead_letters import read
from tests.e2e.conftest import Stack
from tests.fakes_live import offer

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]


def feed_offer_ids(table: Any, since_seq: int) -> set[str]:
    from boto3.dynamodb.conditions import Key

    from gpubroker.domain.subscriptions import FeedEntry

    items = table.query(KeyConditionExpression=Key("feed").eq("prices") & Key("seq").gt(since_seq),
                        ConsistentRead=True)["Items"]  # fmt: skip
    return {c.offer_id for item in items for c in FeedEntry.decode_changes(item["changes"].value)}


def test_an_unreadable_offer_write_lands_in_the_dead_letter_queue_and_its_neighbours_are_delivered(
    stack: Stack,
) -> None:
    if not stack.state_file.exists():
        pytest.skip("needs the local stack's state file (its AWS endpoint)")
    state = json.loads(stack.state_file.read_text())
    endpoint, names = state["aws_endpoint"], state["names"]
    kw: dict[str, Any] = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    ddb = boto3.resource("dynamodb", **kw)
    offers, feed = ddb.Table(names["OffersTable"]), ddb.Table(names["PriceFeedTable"])
    sqs, streams = boto3.client("sqs", **kw), boto3.client("dynamodbstreams", **kw)
    queue = names["LivePricesDeadLetterQueue"]
    head = feed.get_item(Key={"feed": "prices#head", "seq": 0}, ConsistentRead=True).get("Item") or {}
    since = int(str(head.get("head", 0)))

    ids = [f"runpod-e2e-dl-{time.time_ns()}-{i}" for i in range(3)]
    for i, offer_id in enumerate(ids):
        item: dict[str, Any] = json.loads(json.dumps(offer(offer_id, 1.0, gpu_count=1)), parse_float=Decimal)
        item["price_per_gpu_hour"] = "n/a" if i == 1 else Decimal("1.5") + i
        offers.put_item(Item=item)
    try:
        letters: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            letters = [
                letter
                for letter in read(sqs, streams, queue, visibility=1)
                if any(r["keys"] == {"offer_id": {"S": ids[1]}} for r in letter.get("records", []))
            ]
            if letters and {ids[0], ids[2]} <= feed_offer_ids(feed, since):
                break
            time.sleep(0.5)
        assert letters, "the unreadable record never reached LivePricesDeadLetterQueue"
        (letter,) = letters
        assert letter["kind"] == "stream-batch" and letter["condition"] == "RetryAttemptsExhausted"
        assert letter["batch"]["batchSize"] == 1 and letter["function_error"] == "Unhandled"
        assert {ids[0], ids[2]} <= feed_offer_ids(feed, since)  # the readable writes were broadcast
        assert ids[1] not in feed_offer_ids(feed, since)
    finally:
        for offer_id in ids:
            offers.delete_item(Key={"offer_id": offer_id})
        read(sqs, streams, queue, visibility=0, delete=True)
