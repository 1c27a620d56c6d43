"""The real adapters and each handler's default wiring (no deps passed) against DynamoDB/S3 on an endpoint."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from tests.conftest import CATALOGS
from tests.events import Ctx, rest_event
from tests.integration.conftest import Endpoint, fresh_handler

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("aws")]


def ingest(provider: str, catalog: str) -> dict[str, Any]:
    report: dict[str, Any] = fresh_handler("ingest_offers").lambda_handler(
        {"provider": provider, "catalog": catalog}, Ctx()
    )
    return report


def get(
    module: str,
    resource: str,
    path: str,
    query: dict[str, list[str]] | None = None,
    params: dict[str, str] | None = None,
) -> tuple[int, Any]:
    res = fresh_handler(module).lambda_handler(rest_event(resource, path, query, params), Ctx())
    return int(res["statusCode"]), json.loads(res["body"])


def stream_records(endpoint: Endpoint) -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb", endpoint_url=endpoint.url)
    streams = boto3.client("dynamodbstreams", endpoint_url=endpoint.url)
    arn = ddb.describe_table(TableName=endpoint.names["OffersTable"])["Table"]["LatestStreamArn"]
    out: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        out += streams.get_records(ShardIterator=it["ShardIterator"], Limit=1000)["Records"]
    return out


def test_ingest_then_query_through_default_wiring(endpoint: Endpoint, tmp_path: Path) -> None:
    start = len(stream_records(endpoint))  # other tests share the endpoint's tables: count from here
    report = ingest("runpod", str(CATALOGS / "runpod" / "vms.csv"))
    assert (report["accepted"], report["written"], report["rejected"]) == (480, 480, {})
    assert len(stream_records(endpoint)) - start == 480

    status, page = get(
        "api_list_offers", "/offers", "/offers", {"gpu": ["H100-SXM"], "sort": ["-price"], "limit": ["3"]}
    )
    assert status == 200 and page["count"] > 0 and page["items"][0]["provider"] == "runpod"
    offer = page["items"][0]
    status, one = get(
        "api_get_offer",
        "/offers/{offer_id}",
        f"/offers/{offer['offer_id']}",
        params={"offer_id": offer["offer_id"]},
    )
    assert status == 200 and one["price_per_hour"] == offer["price_per_hour"]
    status, gpus = get("api_list_gpus", "/gpus", "/gpus")
    assert status == 200 and {"H100-SXM", "MI300X"} <= {g["model"] for g in gpus["items"]}
    status, gpu = get("api_get_gpu", "/gpus/{model}", "/gpus/A6000", params={"model": "A6000"})
    assert (status, gpu["model"]) == (200, "RTX-A6000")
    status, provs = get("api_list_providers", "/providers", "/providers")
    assert status == 200 and {p["name"]: p["offers"] for p in provs["items"]}["runpod"] == 480

    # second run: one row gone, one price changed -> exactly two writes, the rest untouched
    rows = list(csv.DictReader(io.StringIO((CATALOGS / "runpod" / "vms.csv").read_text())))
    removed, changed = rows[0], rows[1]
    changed["Price"] = f"{float(changed['Price']) + 0.11:.2f}"
    out = tmp_path / "vms.csv"
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows[1:])
    before = len(stream_records(endpoint))
    report2 = ingest("runpod", str(out))
    assert (report2["written"], report2["unchanged"], report2["marked_unavailable"]) == (1, 478, 1)
    assert report2["history_points"] == 2
    assert len(stream_records(endpoint)) - before == 2

    status, gone = get("api_list_offers", "/offers", "/offers", {"available": ["false"], "limit": ["100"]})
    assert status == 200 and gone["count"] == 1 and gone["items"][0]["instance_type"] == removed["InstanceType"]
    history = boto3.resource("dynamodb", endpoint_url=endpoint.url).Table(endpoint.names["PriceHistoryTable"])
    changed_id = next(
        o["offer_id"]
        for o in get(
            "api_list_offers",
            "/offers",
            "/offers",
            {"q": [changed["InstanceType"]], "region": [changed["Region"]]},
        )[1]["items"]
    )
    points = history.query(KeyConditionExpression=Key("offer_id").eq(changed_id))["Items"]
    assert sorted(float(str(p["price_per_hour"])) for p in points) == sorted(
        [float(changed["Price"]) - 0.11, float(changed["Price"])]
    )


def test_source_failure_writes_nothing_to_the_tables(endpoint: Endpoint) -> None:
    before = len(stream_records(endpoint))
    report = ingest("vast", "/nonexistent/vms.csv")
    assert report["status"] == "failed" and "SourceError" in report["error"]
    assert len(stream_records(endpoint)) == before
