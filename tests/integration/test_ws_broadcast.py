"""The WebSocket handlers' default wiring against DynamoDB (tables from template.yaml), and the broadcaster fed
with real stream records of the offers table; gone connections through botocore's Stubber (moto never raises
GoneException)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from gpubroker.wiring.realtime import broadcast_deps
from infra.local.streams import stream_event
from tests.component.test_ws_handlers import CONNECT_EVENT, disconnect_event, message_event
from tests.events import Ctx
from tests.integration.conftest import Endpoint, fresh_handler

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("aws")]


def connect(connection_id: str, filters: dict[str, Any] | None) -> None:
    ev = copy.deepcopy(CONNECT_EVENT)
    ev["requestContext"]["connectionId"] = connection_id
    assert fresh_handler("ws_connect").lambda_handler(ev, Ctx())["statusCode"] == 200
    if filters is not None:
        body = json.dumps({"action": "subscribe", "filters": filters})
        out = fresh_handler("ws_subscribe").lambda_handler(message_event("subscribe", body, connection_id), Ctx())
        assert json.loads(out["body"])["type"] == "subscribed"


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
    connect("c-1", {"gpu_model": "H100-SXM", "region": "US"})
    item = connections.get_item(Key={"connection_id": "c-1"})["Item"]
    assert item["sub_key"] == "gpu#H100-SXM" and item["filters"] == {"gpu_model": "H100-SXM", "region": "US"}
    assert item["token"] == "opaque-token" and int(item["ttl"]) > 0
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
    base: dict[str, Any] = {"provider": "runpod", "gpu_model": "RTX4090", "region": "CA", "available": True}
    offers.put_item(Item={**base, "offer_id": "runpod-it-ws-1", "price_per_gpu_hour": "0.69"})
    offers.put_item(Item={**base, "offer_id": "runpod-it-ws-1", "price_per_gpu_hour": "0.59"})
    offers.put_item(Item={**base, "offer_id": "runpod-it-ws-1", "price_per_gpu_hour": "0.59", "vcpus": 16})
    event = stream_event(read_new(streams, its), arn)
    assert [r["eventName"] for r in event["Records"]] == ["INSERT", "MODIFY", "MODIFY"]

    # default wiring, one sender (the Stubber answers in order), the management client stubbed
    monkeypatch.setenv("BROADCAST_CONCURRENCY", "1")
    mod = fresh_handler("stream_push_prices")
    client = broadcast_deps().poster.client  # type: ignore[attr-defined]  # the adapter's boto3 client
    assert client.meta.endpoint_url == "https://WebSocketApi.execute-api.us-east-1.amazonaws.com/dev"
    with Stubber(client) as stub:
        for data in (
            '{"type": "price", "offer_id": "runpod-it-ws-1", "old_price": null, "new_price": 0.69',
            '{"type": "price", "offer_id": "runpod-it-ws-1", "old_price": 0.69, "new_price": 0.59',
        ):
            stub.add_response("post_to_connection", {}, {"ConnectionId": "a-alive", "Data": _Prefix(data)})
        stub.add_client_error(
            "post_to_connection", service_error_code="GoneException", http_status_code=410,
            expected_params={"ConnectionId": "b-gone", "Data": _Prefix('{"type": "price"')},
        )  # fmt: skip
        report = mod.lambda_handler(event, Ctx())
        stub.assert_no_pending_responses()
    assert report["sent"] == 2 and report["gone"] == ["b-gone"] and report["subscribers"] == 2
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
