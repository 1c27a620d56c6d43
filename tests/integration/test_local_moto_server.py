"""The local stack's moto writes DynamoDB data-plane answers with json.dumps (infra/local/moto_server.py):
the answer must be the document moto's generic serializer writes, for every kind of attribute value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, cast

import boto3
import pytest
from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.core.responses import ActionContext, ActionResult
from moto.core.serialize import get_serializer_class
from moto.core.utils import get_service_model
from moto.dynamodb.responses import DynamoHandler

from infra.local.moto_server import FAST, fast_body, install, uninstall

text = st.text(max_size=12)
name = st.text(min_size=1, max_size=8)  # an empty map key trips moto's generic serializer (it drops the level)
scalar = st.one_of(
    st.builds(lambda s: {"S": s}, text),
    st.builds(lambda n: {"N": str(n)}, st.integers(-(10**12), 10**12)),
    st.builds(lambda b: {"B": b}, st.binary(max_size=16)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda s: {"SS": sorted(s)}, st.sets(text, min_size=1, max_size=4)),
    st.builds(lambda s: {"NS": [str(x) for x in sorted(s)]}, st.sets(st.integers(0, 999), min_size=1, max_size=4)),
    st.builds(lambda s: {"BS": sorted(s)}, st.sets(st.binary(min_size=1, max_size=8), min_size=1, max_size=3)),
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.builds(lambda xs: {"L": xs}, st.lists(inner, max_size=3)),
        st.builds(lambda m: {"M": m}, st.dictionaries(name, inner, max_size=3)),
    ),
    max_leaves=8,
)
item = st.dictionaries(name, value, min_size=1, max_size=6)


@cache
def _context(operation: str, service_name: str = "dynamodb") -> ActionContext:
    service = get_service_model(service_name)
    return ActionContext(service, service.operation_model(operation), get_serializer_class("dynamodb", "json"),
                         DynamoHandler())  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(items=st.lists(item, max_size=4), count=st.integers(0, 10), last=st.one_of(st.none(), item))
def test_query_answer_is_the_generic_serializers_document(
    items: list[dict[str, Any]], count: int, last: dict[str, Any] | None
) -> None:
    result = {"Items": items, "Count": count, "ScannedCount": count, "LastEvaluatedKey": last}
    _, _, generic = ActionResult(result).execute_result(_context("Query"))
    assert json.loads(fast_body(result)) == json.loads(generic)


@settings(max_examples=100, deadline=None)
@given(found=st.one_of(st.none(), item))
def test_get_item_answer_is_the_generic_serializers_document(found: dict[str, Any] | None) -> None:
    result = {"Item": found} if found is not None else {}
    _, _, generic = ActionResult(result).execute_result(_context("GetItem"))
    assert json.loads(fast_body(result)) == json.loads(generic)


@settings(max_examples=100, deadline=None)
@given(
    images=st.lists(st.tuples(item, st.one_of(st.none(), item)), max_size=3),
    when=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
)
def test_stream_records_answer_is_the_generic_serializers_document(
    images: list[tuple[dict[str, Any], dict[str, Any] | None]], when: datetime
) -> None:
    records = []
    for seq, (new, old) in enumerate(images):
        dynamodb = {"ApproximateCreationDateTime": when, "SequenceNumber": str(seq), "SizeBytes": 10,
                    "Keys": {"pk": {"S": "a"}}, "StreamViewType": "NEW_AND_OLD_IMAGES", "NewImage": new}  # fmt: skip
        if old is not None:
            dynamodb["OldImage"] = old
        records.append({"eventID": f"e{seq}", "eventName": "MODIFY", "eventSource": "aws:dynamodb",
                        "eventVersion": "1.0", "awsRegion": "us-east-1", "dynamodb": dynamodb})  # fmt: skip
    result = {"Records": records, "NextShardIterator": "it"}
    _, _, generic = ActionResult(result).execute_result(_context("GetRecords", "dynamodbstreams"))
    assert json.loads(fast_body(result)) == json.loads(generic)


@pytest.fixture
def patched_server() -> Iterator[str]:
    """moto in server mode (the stream calls need it) with the local stack's patch."""
    from moto.server import ThreadedMotoServer

    from infra.local.stack import free_port

    install()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
    uninstall()


def test_round_trip_through_the_patched_server(patched_server: str) -> None:
    kw: dict[str, Any] = {"endpoint_url": patched_server, "region_name": "us-east-1"}
    kw |= {"aws_access_key_id": "x", "aws_secret_access_key": "x"}
    stored: dict[str, Any] = {
        "pk": "a",
        "n": Decimal("1.5"),
        "b": b"\x00\xff",
        "l": [1, "x", None, True],
        "m": {"k": {"x"}},
    }
    table = boto3.resource("dynamodb", **kw).create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    table.put_item(Item=stored)
    got = table.get_item(Key={"pk": "a"})["Item"]
    queried = table.query(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": "a"})
    scanned = table.scan()
    streams = boto3.client("dynamodbstreams", **kw)
    stream_arn = table.latest_stream_arn
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=it["ShardIterator"])["Records"]
    assert [r["eventName"] for r in records] == ["INSERT"]
    assert isinstance(records[0]["dynamodb"]["ApproximateCreationDateTime"], datetime)
    assert records[0]["dynamodb"]["NewImage"]["pk"] == {"S": "a"}
    for answer in (got, queried["Items"][0], scanned["Items"][0]):
        assert {**answer, "b": cast(Binary, answer["b"]).__bytes__()} == stored
    # errors still go through moto's own serializer
    with pytest.raises(ClientError) as err:
        table.get_item(Key={"nope": "a"})
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert ("dynamodbstreams", "GetRecords") in FAST and ("dynamodb", "Query") in FAST


def _typed(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    return {
        "S": st.builds(lambda s: {"S": s}, text),
        "N": st.builds(lambda n: {"N": str(n)}, st.integers(-50, 50)),
        "B": st.builds(lambda b: {"B": b}, st.binary(max_size=4)),
        "BOOL": st.builds(lambda b: {"BOOL": b}, st.booleans()),
    }[kind]


pairs = st.sampled_from(["S", "N", "B", "BOOL"]).flatmap(lambda k: st.tuples(_typed(k), _typed(k)))


@settings(max_examples=300, deadline=None)
@given(pair=pairs, other=scalar)
def test_fast_comparisons_agree_with_moto(pair: tuple[dict[str, Any], dict[str, Any]], other: dict[str, Any]) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    from infra.local.moto_server import _fast_comparisons

    generic = {k: DynamoType.__dict__[k] for k in ("__eq__", "__ne__", "__lt__")}
    fast = _fast_comparisons(DynamoType)
    a, b, c = DynamoType(pair[0]), DynamoType(pair[1]), DynamoType(other)
    for x, y in ((a, b), (b, a), (a, a), (a, c), (c, a)):
        assert fast["__eq__"](x, y) == generic["__eq__"](x, y)
        assert fast["__ne__"](x, y) == generic["__ne__"](x, y)
    assert fast["__lt__"](a, b) == generic["__lt__"](a, b)


@settings(max_examples=50, deadline=None)
@given(
    keys=st.sampled_from(["S", "N", "B"]).flatmap(
        lambda hk: st.sampled_from([None, "S", "N"]).flatmap(
            lambda rk: st.lists(st.tuples(_typed(hk), _typed(rk) if rk else st.none()), min_size=1, max_size=30)
        )
    )
)
def test_all_items_order_is_motos_order(keys: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> None:
    from moto.dynamodb.models.table import Table

    from infra.local.moto_server import all_items

    hk_type, rk_type = next(iter(keys[0][0])), (next(iter(keys[0][1])) if keys[0][1] else None)
    schema = [{"AttributeName": "h", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "h", "AttributeType": hk_type}]
    if rk_type:
        schema.append({"AttributeName": "r", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "r", "AttributeType": rk_type})
    table = Table("t", account_id="123456789012", region="us-east-1", schema=schema, attr=attrs)  # type: ignore[abstract]
    for h, r in keys:
        table.put_item({"h": h, **({"r": r} if r else {}), "v": {"S": "x"}})
    generic = Table.__dict__.get("_gpubroker_all_items", Table.all_items)  # moto's own, patched or not
    assert [(i.hash_key, i.range_key) for i in all_items(table)] == [(i.hash_key, i.range_key) for i in generic(table)]
