"""The sweeper of silent WebSocket connections: a filtered Scan of the connections table (what it does) against a
GSI keyed on ``last_seen`` (the peer), on moto, with the capacity each costs in DynamoDB's units.

Measured here: N connection items as the handlers write them (``$connect`` then ``subscribe``; a signed-in half
carries a user id), 1 % of them silent; the wall time of one sweep each way (moto on loopback, so a relative
figure only), and the items' DynamoDB sizes (attribute names + values, numbers at one byte per two digits + 1).

The capacity model, per connection and minute, with pings every 30 s (``HEARTBEAT_S``): both designs write
``last_seen`` on every ping (1 write unit per item under 1 KB, 2 a minute). The GSI moves the item in the index at
every ping (a delete and a put of the index entry: 2 more write units per ping); the Scan reads the whole table
once a minute (the items' bytes / 4 KB x 0.5 read units, eventually consistent). A read unit costs a fifth of a
write unit on demand (``--read-price``, in write units). Target: the Scan's units, priced as writes, are at most a
tenth of what the index adds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "layers/core")]

import boto3  # noqa: E402

from gpubroker.domain.search import OfferFilters  # noqa: E402
from gpubroker.domain.subscriptions import HEARTBEAT_S, SILENCE_LIMIT_S, canonical_json, epoch_ms, sub_key  # noqa: E402
from tests.bench.common import add_quick, verdict  # noqa: E402

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TARGET_RATIO = 10.0


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item of strings and numbers (bytes)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        if isinstance(value, str):
            size += len(value.encode())
        else:
            digits = len(str(value).replace("-", "").replace(".", "").lstrip("0")) or 1
            size += math.ceil(digits / 2) + 1
    return size


def items(n: int) -> list[dict[str, Any]]:
    gpus = ["H100-SXM", "A100-80GB-SXM", "RTX-4090", "L40S", "H200-SXM"]
    out = []
    for i in range(n):
        at = NOW - timedelta(seconds=SILENCE_LIMIT_S + 30 if i % 100 == 0 else i % 60)
        filters = OfferFilters.model_validate({"gpu": [gpus[i % len(gpus)]], "max_price_per_gpu_hour": 1 + i % 5})
        item: dict[str, Any] = {
            "connection_id": f"{uuid.UUID(int=i + 1).hex[-15:]}=",
            "connected_at": (NOW - timedelta(minutes=5)).isoformat(),
            "last_seen": epoch_ms(at),
            "ttl": int(NOW.timestamp()) + 7200,
            "filters": canonical_json(filters),
            "sub_key": sub_key(filters),
            "subscribed_at": (NOW - timedelta(minutes=5)).isoformat(),
        }
        if i % 2:
            item["user_id"] = str(uuid.UUID(int=i))
        out.append(item)
    return out


class Counted:
    closed = 0

    def close(self, connection_id: str) -> bool:
        self.closed += 1
        return True


def table(ddb: Any, name: str, *, index: bool) -> None:
    from infra.local.provision import _TABLE_KEYS
    from infra.local.template import read_app

    props = {k: v for k, v in read_app().template["Resources"]["ConnectionsTable"]["Properties"].items()
             if k in _TABLE_KEYS}  # fmt: skip
    if index:  # the peer: every connection under one key, sorted by last_seen
        props["AttributeDefinitions"] = [*props["AttributeDefinitions"], {"AttributeName": "hb", "AttributeType": "S"},
                                         {"AttributeName": "last_seen", "AttributeType": "N"}]  # fmt: skip
        keys = [{"AttributeName": "hb", "KeyType": "HASH"}, {"AttributeName": "last_seen", "KeyType": "RANGE"}]
        index_def = {"IndexName": "by_last_seen", "Projection": {"ProjectionType": "KEYS_ONLY"}, "KeySchema": keys}
        props["GlobalSecondaryIndexes"] = [*props["GlobalSecondaryIndexes"], index_def]
    ddb.create_table(TableName=name, **props)


def fill(endpoint: str, name: str, rows: list[dict[str, Any]], *, hb: bool) -> None:
    t = boto3.resource("dynamodb", endpoint_url=endpoint, region_name="us-east-1").Table(name)
    with t.batch_writer() as batch:
        for row in rows:
            batch.put_item(Item={**row, **({"hb": "hb"} if hb else {})})


def sweep_scan(name: str, segments: int) -> tuple[float, int]:
    from gpubroker.adapters.connections import DynamoConnectionRepository
    from gpubroker.services.connections import sweep_silent

    class Clock:
        def now(self) -> datetime:
            return NOW

    started = time.perf_counter()
    report = sweep_silent(connections=DynamoConnectionRepository(name, segments=segments), closer=Counted(),
                          clock=Clock())  # fmt: skip
    return time.perf_counter() - started, report.swept


def sweep_index(endpoint: str, name: str) -> tuple[float, int]:
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    cutoff = epoch_ms(NOW - timedelta(seconds=SILENCE_LIMIT_S))
    started = time.perf_counter()
    kwargs: dict[str, Any] = {"TableName": name, "IndexName": "by_last_seen",
                              "KeyConditionExpression": "hb = :h AND last_seen < :c",
                              "ExpressionAttributeValues": {":h": {"S": "hb"}, ":c": {"N": str(cutoff)}}}  # fmt: skip
    ids: list[str] = []
    while True:
        page = ddb.query(**kwargs)
        ids += [i["connection_id"]["S"] for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    for cid in ids:
        ddb.delete_item(TableName=name, Key={"connection_id": {"S": cid}}, ConditionExpression="last_seen < :c",
                        ExpressionAttributeValues={":c": {"N": str(cutoff)}})  # fmt: skip
    return time.perf_counter() - started, len(ids)


def main() -> int:
    parser = add_quick(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--connections", type=int, default=20_000)
    parser.add_argument("--read-price", type=float, default=0.2, help="a read unit's price in write units")
    args = parser.parse_args()
    n = 500 if args.quick else args.connections

    import os

    from moto.server import ThreadedMotoServer

    from infra.local.stack import free_port

    for k, v in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(k, v)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    try:
        ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        rows = items(n)
        table(ddb, "bench-scan", index=False)
        table(ddb, "bench-index", index=True)
        fill(endpoint, "bench-scan", rows, hb=False)
        fill(endpoint, "bench-index", rows, hb=True)
        scan_s, scan_swept = sweep_scan("bench-scan", segments=4)
        index_s, index_swept = sweep_index(endpoint, "bench-index")
    finally:
        server.stop()
    silent = sum(1 for r in rows if r["last_seen"] < epoch_ms(NOW - timedelta(seconds=SILENCE_LIMIT_S)))
    if not scan_swept == index_swept == silent:
        raise AssertionError(f"swept {scan_swept} (scan) and {index_swept} (index), {silent} silent")

    sizes = [item_size({k: v for k, v in r.items()}) for r in rows]
    mean = sum(sizes) / len(sizes)
    pings = 60 / HEARTBEAT_S
    ping_writes = pings * math.ceil(mean / 1024)  # both designs
    index_extra = pings * 2  # the index entry deleted and put again
    scan_reads = mean / 4096 * 0.5  # the whole table read once a minute
    ratio = index_extra / (scan_reads * args.read_price)
    result = {
        "bench": "ws_sweep",
        "connections": n,
        "silent": silent,
        "item_bytes_mean": round(mean, 1),
        "sweep_s_scan_4_segments_moto": round(scan_s, 3),
        "sweep_s_gsi_query_moto": round(index_s, 3),
        "units_per_connection_minute": {
            "ping_writes_both": ping_writes,
            "gsi_extra_writes": index_extra,
            "scan_reads": round(scan_reads, 4),
        },
        "gsi_over_scan_priced_as_writes": round(ratio, 1),
        "target_ratio": TARGET_RATIO,
        "met": ratio >= TARGET_RATIO,
        "quick": args.quick,
    }
    for k, v in result.items():
        print(f"  {k:<34} {v}")
    print(json.dumps(result))
    return verdict(bool(result["met"]), quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
