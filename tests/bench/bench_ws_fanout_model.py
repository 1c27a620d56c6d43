"""The live-price fan-out at 100,000 subscribers: a simulation fed with costs measured here.

Measured on this machine:
- ``post``: boto3's ``post_to_connection`` to the local stack's ``@connections`` endpoint (``--no-seed``), 200
  connected clients in another process: CPU milliseconds per post (the poster's process) and wall milliseconds
  per post (one thread, loopback).
- ``item``: reading one subscription from a ``by_subscription`` Query page (botocore parsing a 1 MB page of
  ``connection_id`` + ``filters`` items, and the adapter's loop).
- ``plan``: ``services.broadcast.plan`` for a batch of 100 changes, one offer at a time (per distinct filter and
  change) and column-wise (per distinct filter); ``chunk``: encoding the delivery chunks, per connection.

Taken from AWS's documentation (override with the flags): the account's API Gateway throttle, 10,000 requests per
second with a 5,000 burst, shared by REST, HTTP, WebSocket and WebSocket callback (``@connections``) calls
(https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html); an SQS event source starts with 5
concurrent batches and adds up to 300 per minute, up to its MaximumConcurrency (template: 200)
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html); Lambda CPU in proportion to memory, one
vCPU at 1,769 MB. Assumed (flags): 15 ms per post from Lambda in the same region, 250 ms from a write to the
broadcaster (Lambda polls a stream shard 4 times a second), 10 ms per DynamoDB Query page or SQS call.

The model, per stream batch of ``--changes`` changes heard by N subscribers (one post each, the batch coalesced
into one frame): the broadcaster reads the N subscriptions (pages one after another, parsing on its CPU), plans,
encodes and queues N / chunk chunks; workers start as the event source scales; each posts its chunk with 16
threads, as fast as its CPU share and the network allow; all posts together never exceed the account's throttle
(a token bucket). The output is when each subscriber's post completes, from the write: p50, p99, max.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "layers/core"), str(ROOT / "layers/math")]

import boto3  # noqa: E402

from infra.local.sigv4 import LocalCredentials  # noqa: E402
from tests.bench.common import add_quick, verdict  # noqa: E402
from tests.e2e.stack_process import local_stack  # noqa: E402

CLIENTS = 200
POSTS = 2000


# ------------------------------------------------------------------------------------------ measured here


def _clients(url: str, n: int, ready: Any, stop: Any) -> None:
    from websockets.asyncio.client import connect

    async def one() -> None:
        async with connect(url, max_queue=None, open_timeout=120) as ws:
            await ws.send(json.dumps({"action": "subscribe", "filters": {}}))
            await ws.recv()
            ready.put(1)
            async for _ in ws:
                pass

    async def main() -> None:
        tasks = [asyncio.create_task(one()) for _ in range(n)]
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for t in tasks:
            t.cancel()

    asyncio.run(main())


def measure_posts() -> dict[str, float]:
    """CPU and wall milliseconds of one boto3 post to the local @connections endpoint."""
    from gpubroker.adapters.websocket import ApiGatewayConnectionPoster

    env = {"POWERTOOLS_LOG_LEVEL": "ERROR", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    os.environ.update({**env, "AWS_DEFAULT_REGION": "us-east-1"})
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp, local_stack(Path(tmp), "--no-seed", env=env) as s:
        state = json.loads(s.state_file.read_text())
        os.environ.update(LocalCredentials.from_state(state).environment())  # the poster signs as the stack's do
        ready: Any = mp.Queue()
        stop = mp.Event()
        child = mp.Process(target=_clients, args=(state["ws"], CLIENTS, ready, stop))
        child.start()
        try:
            for _ in range(CLIENTS):
                ready.get(timeout=120)
            table = boto3.resource("dynamodb", endpoint_url=state["aws_endpoint"], region_name="us-east-1").Table(
                state["names"]["ConnectionsTable"]
            )
            ids = [str(i["connection_id"]) for i in table.scan()["Items"]]
            poster = ApiGatewayConnectionPoster(state["ws_management"], max_connections=4)
            data = b'{"type":"price","seq":1,"offer_id":"runpod-0123456789abcdef","old_price":2.5,"new_price":2.25}'
            for i in ids[:50]:
                poster.post(i, data)  # warm: the client, its connection pool
            walls = []
            cpu0 = time.process_time()
            for n in range(POSTS):
                t = time.perf_counter()
                poster.post(ids[n % len(ids)], data)
                walls.append(time.perf_counter() - t)
            cpu = (time.process_time() - cpu0) / POSTS
        finally:
            stop.set()
            child.join(10)
    return {"post_cpu_ms": cpu * 1000, "post_wall_ms": statistics.median(walls) * 1000}


def measure_broadcaster() -> dict[str, float]:
    """The broadcaster's CPU per subscriber (index read, plan, chunks) and per (distinct filter x change)."""
    import botocore.parsers
    import botocore.session

    from gpubroker.domain.subscriptions import OfferChange, canonical_json
    from gpubroker.services.broadcast import Outbox, plan, stored_filters
    from gpubroker.services.subscriptions import read_subscription
    from tests.fakes_live import offer

    items = [{"connection_id": {"S": f"Ab3dEf5hIj7lMn{i:06d}="}, "filters": {"S": '{"gpu":["H100-SXM"],'
              f'"max_price_per_gpu_hour":{2 + i % 50}.5,"region":["eu"]}}'}} for i in range(5000)]  # fmt: skip
    body = json.dumps({"Items": items, "Count": len(items), "ScannedCount": len(items)}).encode()
    op = botocore.session.get_session().get_service_model("dynamodb").operation_model("Query")
    parser = botocore.parsers.create_parser("json")
    t = time.process_time()
    assert op.output_shape is not None
    page = parser.parse({"body": body, "headers": {}, "status_code": 200}, op.output_shape)
    pairs = [(i["connection_id"]["S"], i["filters"]["S"]) for i in page["Items"]]
    item_ms = (time.process_time() - t) * 1000 / len(items)

    ts = datetime(2026, 12, 5, tzinfo=UTC)
    changes = [OfferChange(f"runpod-{i}", offer(f"runpod-{i}", 2.0 + i / 100, region="europe-central-1"),
                           offer(f"runpod-{i}", 2.1 + i / 100, region="europe-central-1"), ts)
               for i in range(100)]  # fmt: skip
    numbered = list(enumerate(changes, start=1))
    subscribers = [(cid, f) for cid, f in pairs]
    for _, f in subscribers:  # the stored filters parse once per container (cached): not per batch
        stored_filters(f)
    distinct = len({f for _, f in subscribers})
    t = time.process_time()
    outbox = plan(numbered, subscribers, columns_from=10**12)  # one offer at a time
    plan_s = time.process_time() - t
    plan(numbered[:2], subscribers[:2], columns_from=0)  # NumPy and the search imported: not timed
    t = time.process_time()
    plan(numbered, subscribers, columns_from=0)  # column-wise
    columns_s = time.process_time() - t
    t = time.process_time()
    chunks = [c.model_dump_json() for c in Outbox(outbox.messages, outbox.to).chunks(200, ts)]
    chunk_ms = (time.process_time() - t) * 1000 / len(subscribers)
    assert chunks and read_subscription is not None and canonical_json is not None
    return {
        "item_ms": item_ms,
        "match_ms": plan_s * 1000 / (distinct * len(changes)),
        "mask_ms": columns_s * 1000 / distinct,
        "chunk_ms": chunk_ms,
        "distinct_filters_measured": float(distinct),
    }


# ------------------------------------------------------------------------------------------ the model


@dataclass
class Params:
    subscribers: int
    changes: int = 100
    distinct_filters: int = 1000  # distinct stored filters among the subscribers (at most one per subscriber)
    chunk: int = 200
    threads: int = 16
    worker_vcpu: float = 1024 / 1769  # MemorySize 1024 (template)
    broadcaster_vcpu: float = 1.0  # MemorySize 1769
    post_cpu_ms: float = 0.7
    post_ms: float = 15.0
    quota_rps: float = 10_000.0
    burst: float = 5_000.0
    max_concurrency: int = 200
    start_concurrency: int = 5
    ramp_per_s: float = 5.0  # 300 per minute
    stream_delay_s: float = 0.25
    call_s: float = 0.010
    item_bytes: int = 150
    item_ms: float = 0.01
    match_ms: float = 0.005  # one filter against one change, one offer at a time
    mask_ms: float = 0.02  # one filter against the whole batch, column-wise
    chunk_ms: float = 0.01
    plan_in_workers: bool = False  # the design option: the index sharded, each worker reads and plans its shard


def simulate(p: Params, dt: float = 0.005) -> dict[str, float]:
    """Seconds from the write to each subscriber's post: p50, p99, max, and where the time went."""
    chunks = math.ceil(p.subscribers / p.chunk)
    queue_s = math.ceil(chunks / 10 / 8) * p.call_s  # SendMessageBatch of 10, 8 at once
    distinct = min(p.distinct_filters, p.subscribers)

    def planning(filters: int) -> float:  # ms: the cheaper of the two ways, as plan() chooses
        return min(filters * p.changes * p.match_ms, filters * p.mask_ms)

    if p.plan_in_workers:  # a chunk's worker queries its shard (chunk items) and plans it before posting
        read_s = plan_s = 0.0
        setup = p.call_s + (p.chunk * (p.item_ms + p.chunk_ms) + planning(min(distinct, p.chunk))) / (
            1000 * p.worker_vcpu
        )
    else:
        pages = math.ceil(p.subscribers * p.item_bytes / 1_000_000)
        read_s = pages * p.call_s + p.subscribers * p.item_ms / 1000 / p.broadcaster_vcpu
        plan_s = (planning(distinct) + p.subscribers * p.chunk_ms) / 1000 / p.broadcaster_vcpu
        setup = 0.0
    start = p.stream_delay_s + 2 * p.call_s + read_s + plan_s + queue_s + p.call_s  # + the workers' receive
    # a worker's own pace for one post: its CPU share or its threads' network wait, whichever is slower
    per_post = max(p.post_cpu_ms / 1000 / p.worker_vcpu, p.post_ms / 1000 / p.threads)
    size = [min(p.chunk, p.subscribers - i * p.chunk) for i in range(chunks)]
    posted = [0.0] * chunks
    ready_at = [math.inf] * chunks
    done_at: list[float] = []
    waiting, active, t, tokens = list(range(chunks)), list[int](), start, p.burst
    while waiting or active:
        limit = min(p.max_concurrency, p.start_concurrency + int(p.ramp_per_s * (t - start)))
        while waiting and len(active) < limit:
            ready_at[waiting[0]] = t + setup
            active.append(waiting.pop(0))
        posting = [c for c in active if ready_at[c] <= t]
        tokens = min(p.burst, tokens + p.quota_rps * dt)  # the account's throttle: a token bucket
        allowed = min(len(posting) * dt / per_post, tokens)
        tokens -= allowed
        for c in posting:
            before, posted[c] = posted[c], min(size[c], posted[c] + allowed / len(posting))
            done_at += [t + dt] * (math.floor(posted[c] + 1e-9) - math.floor(before + 1e-9))
            if posted[c] >= size[c] - 1e-9:
                active.remove(c)
        t += dt
    done_at = sorted(done_at)[: p.subscribers] or [start]
    return {
        "p50_s": round(done_at[len(done_at) // 2], 2),
        "p99_s": round(done_at[min(len(done_at) - 1, int(0.99 * len(done_at)))], 2),
        "max_s": round(done_at[-1], 2),
        "broadcaster_s": round(start, 2),
        "chunks": chunks,
        "quota_bound_s": round(max(0.0, p.subscribers - p.burst) / p.quota_rps, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = add_quick(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--post-ms", type=float, default=15.0, help="one post's round trip from Lambda (assumed)")
    parser.add_argument("--no-measure", action="store_true", help="use the defaults instead of measuring here")
    args = parser.parse_args(argv)
    measured: dict[str, float] = {}
    if not (args.no_measure or args.quick):  # quick: the simulation on its defaults, no local stack
        measured = {**measure_posts(), **measure_broadcaster()}
    base: dict[str, Any] = {k: v for k, v in measured.items() if k in Params.__dataclass_fields__}
    rows = []
    for n in (1_000, 10_000, 100_000):
        raised = {"quota_rps": 50_000.0, "burst": 25_000.0, "max_concurrency": 1000, "start_concurrency": 1000}
        for label, extra in (
            ("as built", {}),
            ("as built, 5 changes per batch", {"changes": 5}),
            ("quota 50k rps, 1000 warm workers", raised),
            ("same + read/plan in workers (option)", {**raised, "plan_in_workers": True}),
        ):
            params = Params(subscribers=n, post_ms=args.post_ms, **{**base, **extra})
            rows.append({"subscribers": n, "setting": label, **simulate(params)})
    print(f"{'subscribers':>12} {'setting':<40}{'p50 s':>8}{'p99 s':>8}{'max s':>8}{'bcast s':>9}{'chunks':>8}")
    for r in rows:
        print(f"{r['subscribers']:>12} {r['setting']:<40}{r['p50_s']:>8}{r['p99_s']:>8}{r['max_s']:>8}"
              f"{r['broadcaster_s']:>9}{r['chunks']:>8}")  # fmt: skip
    out = {"bench": "ws_fanout_model", "measured": {k: round(v, 4) for k, v in measured.items()},
           "assumed": {k: v for k, v in asdict(Params(subscribers=0, post_ms=args.post_ms)).items() if k not in base},
           "rows": rows, "quick": args.quick}  # fmt: skip
    print(json.dumps(out))
    return verdict(True, quick=args.quick)  # a model: its figures go to docs/decisions.md, no target of its own


if __name__ == "__main__":
    sys.exit(main())
