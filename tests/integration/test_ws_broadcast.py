"""The WebSocket handlers' default wiring against DynamoDB and SQS (tables and queues from template.yaml): the
connections and their canonical filters, the price feed's numbering and reads, the fan-out queue, and the
broadcaster fed with real stream records of the offers table; gone connections through botocore's Stubber (moto
never raises GoneException)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from gpubroker.adapters.connections import DynamoConnectionRepository
from gpubroker.adapters.fanout import SqsFanoutQueue
from gpubroker.adapters.price_feed import DynamoPriceFeed
from gpubroker.domain.subscriptions import OfferChange
from gpubroker.wiring.realtime import broadcast_deps, subscribe_deps
from infra.local.streams import stream_event
from tests.component.test_ws_handlers import CONNECT_EVENT, disconnect_event, message_event
from tests.events import Ctx
from tests.fakes_live import offer
from tests.integration.conftest import Endpoint, fresh_handler

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("aws")]


def connect(connection_id: str, filters: dict[str, Any] | None) -> None:
    """$connect, then subscribe through the default wiring (its replies to the connection stubbed)."""
    ev = copy.deepcopy(CONNECT_EVENT)
    ev["requestContext"]["connectionId"] = connection_id
    assert fresh_handler("ws_connect").lambda_handler(ev, Ctx())["statusCode"] == 200
    if filters is not None:
        body = json.dumps({"action": "subscribe", "filters": filters})
        mod = fresh_handler("ws_subscribe")
        client = subscribe_deps().poster.client  # type: ignore[attr-defined]  # the adapter's boto3 client
        with Stubber(client) as stub:
            stub.add_response("post_to_connection", {}, {"ConnectionId": connection_id, "Data": _Prefix(
                '{"type":"subscribed"')})  # fmt: skip
            for _ in range(8):  # the snapshot pages and replay, if any (no snapshot published here: none)
                stub.add_response("post_to_connection", {})
            out = mod.lambda_handler(message_event("subscribe", body, connection_id), Ctx())
        assert out == {"statusCode": 200}


@pytest.fixture
def connections(endpoint: Endpoint) -> Iterator[Any]:
    table = boto3.resource("dynamodb", endpoint_url=endpoint.url).Table(endpoint.names["ConnectionsTable"])
    yield table
    for item in table.scan()["Items"]:
        table.delete_item(Key={"connection_id": item["connection_id"]})


def offer_stream(endpoint: Endpoint) -> tuple[Any, str, dict[str, str]]:
    ddb = boto3.client("dynamodb", endpoint_url=endpoint.url)
    streams = boto3.client("dynamodbstreams", endpoint_url=endpoint.url)
    arn = ddb.describe_table(TableName=endpoint.names["OffersTable"])["Table"]["LatestStreamArn"]
    its = {}
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST")
        its[shard["ShardId"]] = it["ShardIterator"]
    return streams, arn, its


def read_new(streams: Any, its: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for shard, it in its.items():
        page = streams.get_records(ShardIterator=it)
        out += page["Records"]
        its[shard] = page["NextShardIterator"]
    return out


def test_connect_subscribe_disconnect_store_the_items(endpoint: Endpoint, connections: Any) -> None:
    connect("c-1", {"gpu_model": "h100-sxm", "region": "US"})
    item = connections.get_item(Key={"connection_id": "c-1"})["Item"]
    assert item["sub_key"] == "gpu#H100-SXM"
    assert json.loads(item["filters"]) == {"gpu": ["H100-SXM"], "region": ["us"]}
    assert "token" not in item and "user_id" not in item and int(item["ttl"]) > 0 and int(item["last_seen"]) > 0
    fresh_handler("ws_disconnect").lambda_handler(disconnect_event("c-1"), Ctx())
    assert "Item" not in connections.get_item(Key={"connection_id": "c-1"})


def test_broadcast_from_real_stream_records_and_gone_cleanup(
    endpoint: Endpoint, connections: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect("a-alive", {"provider": "runpod"})
    connect("b-gone", {"provider": "runpod", "max_price_per_gpu_hour": 1000})
    connect("c-other", {"provider": "vast"})
    connect("d-idle", None)
    offers = boto3.resource("dynamodb", endpoint_url=endpoint.url).Table(endpoint.names["OffersTable"])
    streams, arn, its = offer_stream(endpoint)
    base: dict[str, Any] = json.loads(json.dumps(offer("x", 1.0, gpu_model="RTX-4090", gpu_memory_gb=24.0,
                                                       gpu_count=1, region="CA")), parse_float=Decimal)  # fmt: skip
    offers.put_item(Item={**base, "offer_id": "runpod-it-ws-1", "price_per_gpu_hour": Decimal("0.69")})
    offers.put_item(Item={**base, "offer_id": "runpod-it-ws-1", "price_per_gpu_hour": Decimal("0.59")})
    offers.put_item(Item={**base, "offer_id": "runpod-it-ws-1", "price_per_gpu_hour": Decimal("0.59"), "vcpus": 16})
    offers.delete_item(Key={"offer_id": "runpod-it-ws-1"})  # a whole offer: other tests ingest runpod's catalog
    event = stream_event(read_new(streams, its)[:3], arn)
    assert [r["eventName"] for r in event["Records"]] == ["INSERT", "MODIFY", "MODIFY"]

    # default wiring, one sender (the Stubber answers in order), the management client stubbed
    monkeypatch.setenv("BROADCAST_CONCURRENCY", "1")
    connections.update_item(  # a subscription stored by the first protocol (filters as a map) is still served
        Key={"connection_id": "a-alive"}, UpdateExpression="SET filters = :f",
        ExpressionAttributeValues={":f": {"provider": "runpod"}},
    )  # fmt: skip
    mod = fresh_handler("stream_push_prices")
    client = broadcast_deps().poster.client  # type: ignore[attr-defined]  # the adapter's boto3 client
    assert client.meta.endpoint_url == "https://WebSocketApi.execute-api.us-east-1.amazonaws.com/dev"
    with Stubber(client) as stub:
        for data in (
            '{"type":"batch","messages":[{"type":"price","seq":1,"offer_id":"runpod-it-ws-1","old_price":null,'
            '"new_price":0.69',
        ):
            stub.add_response("post_to_connection", {}, {"ConnectionId": "a-alive", "Data": _Prefix(data)})
        stub.add_client_error(
            "post_to_connection", service_error_code="GoneException", http_status_code=410,
            expected_params={"ConnectionId": "b-gone", "Data": _Prefix('{"type":"batch"')},
        )  # fmt: skip
        report = mod.lambda_handler(event, Ctx())
        stub.assert_no_pending_responses()
    assert report["sent"] == 1 and report["gone"] == ["b-gone"] and report["subscribers"] == 2
    left = {i["connection_id"] for i in connections.scan()["Items"]}
    assert left == {"a-alive", "c-other", "d-idle"}


class _Prefix:
    """Matches the posted bytes by their start (the ts varies)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __eq__(self, other: object) -> bool:
        return isinstance(other, bytes) and other.decode().startswith(self.prefix)

    def __hash__(self) -> int:
        return hash(self.prefix)

    def __repr__(self) -> str:
        return f"<bytes starting {self.prefix!r}>"


def test_the_price_feed_numbers_consecutively_and_reads_by_number_and_time(endpoint: Endpoint) -> None:
    feed = DynamoPriceFeed(endpoint.names["PriceFeedTable"])
    start = feed.head()
    t0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    a = OfferChange("runpod-a", None, offer("runpod-a", 1.0), t0)
    b = OfferChange("runpod-a", offer("runpod-a", 1.0), offer("runpod-a", 1.5), t0)
    firsts = [feed.append([a, b], at=t0), feed.append([b], at=t0 + timedelta(seconds=30)),
              feed.append([a, b, b], at=t0 + timedelta(seconds=60))]  # fmt: skip
    assert firsts == [start + 1, start + 3, start + 4] and feed.head() == start + 6
    held = feed.entry_at(start + 5)
    assert held is not None and (held.first, held.last) == (start + 4, start + 6) and held.changes == (a, b, b)
    assert feed.entry_at(start + 7) is None
    assert [e.first for e in feed.since(t0 + timedelta(seconds=10))] == [start + 3, start + 4]
    assert [e.first for e in feed.after(start + 3)] == [start + 4]
    assert [e.first for e in feed.after(start + 2)] == [start + 3, start + 4]


def test_subscribers_read_canonical_and_first_protocol_filters(endpoint: Endpoint, connections: Any) -> None:
    from gpubroker.domain.search import OfferFilters

    repo = DynamoConnectionRepository(endpoint.names["ConnectionsTable"])
    now = datetime(2026, 12, 5, tzinfo=UTC)
    for i in range(30):  # more than one page of the index is not needed; several items per key are
        repo.connect(f"k-{i:02d}", at=now, user_id=None)
        repo.subscribe(f"k-{i:02d}", OfferFilters(gpu=("H100-SXM",), max_price_per_gpu_hour=2.0 + i), at=now)
    connections.put_item(Item={"connection_id": "old", "sub_key": "gpu#H100-SXM", "filters": {"gpu_model": "H100-SXM"}})
    got = dict(repo.subscribers(["gpu#H100-SXM", "provider#vast"]))
    assert len(got) == 31 and json.loads(got["k-03"]) == {"gpu": ["H100-SXM"], "max_price_per_gpu_hour": 5.0}
    assert json.loads(got["old"]) == {"gpu_model": "H100-SXM"}


def test_the_fanout_queue_takes_every_chunk(endpoint: Endpoint) -> None:
    url = endpoint.names["PriceFanoutQueue"]
    SqsFanoutQueue(url).send([json.dumps({"n": i}) for i in range(23)])
    sqs = boto3.client("sqs", endpoint_url=endpoint.url)
    got: list[int] = []
    while len(got) < 23:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        assert msgs
        got += [json.loads(m["Body"])["n"] for m in msgs]
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(msgs)])  # fmt: skip
    assert sorted(got) == list(range(23))
    redrive = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert json.loads(redrive["RedrivePolicy"])["deadLetterTargetArn"].endswith("LivePricesDeadLetterQueue")
