"""Live prices over a real WebSocket: the local stack (or GPUBROKER_WS_URL), a price change through the ingestion
function's invoke path (what `make ingest` runs) arrives as a ``price`` message; a client killed mid-stream
resumes without missing a change; ping -> pong."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import random
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import CATALOGS
from tests.e2e.conftest import Stack
from tests.e2e.test_local_stack import make_ingest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]


def ws_url(stack: Stack) -> str:
    if not stack.ws_url:
        pytest.skip("no WebSocket URL (set GPUBROKER_WS_URL)")
    return stack.ws_url


async def reply(ws: ClientConnection, message: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(message))
    out: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return out


async def messages(ws: ClientConnection, timeout: float) -> list[dict[str, Any]]:
    """The next frame's messages (a ``batch`` unpacked)."""
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return list(frame["messages"]) if frame["type"] == "batch" else [frame]


async def subscribed(ws: ClientConnection, filters: dict[str, Any], **extra: Any) -> list[dict[str, Any]]:
    """Subscribe; the replies up to the last snapshot page or replayed change (a short silence ends them)."""
    await ws.send(json.dumps({"action": "subscribe", "filters": filters, **extra}))
    out = await messages(ws, 10)
    assert out[0]["type"] == "subscribed", out
    while True:
        try:
            out += await messages(ws, 1.0)
        except TimeoutError:
            return out


def modified(provider: str, tmp_path: Path, rng: random.Random, n: int) -> Path:
    """The provider's catalog with ``n`` prices moved by -40..+40 %."""
    with (CATALOGS / provider / "vms.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rng.sample([r for r in rows if r["AcceleratorName"] and float(r["Price"] or 0) > 0], n):
        row["Price"] = str(round(float(row["Price"]) * rng.uniform(0.6, 1.4), 4))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / f"{provider}-{rng.random():.6f}.csv"
    path.write_text(out.getvalue())
    return path


class Client:
    """The protocol's client rule: per offer, a message counts only if its seq is greater than the last applied."""

    def __init__(self) -> None:
        self.prices: dict[str, float | None] = {}
        self.last: dict[str, int] = {}
        self.seen = 0

    def take(self, batch: list[dict[str, Any]]) -> None:
        for m in batch:
            if m["type"] == "snapshot":
                for o in m["offers"]:
                    self._apply(o["offer_id"], m["seq"], o["price_per_gpu_hour"])
            elif m["type"] in {"price", "removed"}:
                self._apply(m["offer_id"], m["seq"], m.get("new_price"))
            if isinstance(m.get("seq"), int):
                self.seen = max(self.seen, m["seq"])

    def _apply(self, offer_id: str, seq: int, price: float | None) -> None:
        if seq > self.last.get(offer_id, -1):
            self.last[offer_id], self.prices[offer_id] = seq, price

    def state(self) -> dict[str, float]:
        return {k: round(v, 9) for k, v in self.prices.items() if v is not None}


def live_offers(stack: Stack, provider: str) -> dict[str, float]:
    """The truth: the provider's live offers in the offers table, at their prices."""
    state = json.loads(stack.state_file.read_text())
    table = boto3.resource("dynamodb", endpoint_url=state["aws_endpoint"], region_name="us-east-1").Table(
        state["names"]["OffersTable"]
    )
    items = table.query(IndexName="by_provider", KeyConditionExpression=Key("provider").eq(provider))["Items"]
    return {
        str(i["offer_id"]): round(float(str(i["price_per_gpu_hour"])), 9) for i in items if i.get("available", True)
    }


def test_ping_pong_and_bad_subscription(stack: Stack) -> None:
    async def run() -> None:
        async with connect(ws_url(stack)) as ws:
            sent = time.time()
            pong = await reply(ws, {"action": "ping"})
            answered = time.time()
            assert pong["type"] == "pong"
            # the server's time of the answer: between the send and the receipt (1 s for the stamp's resolution)
            assert sent - 1 <= datetime.fromisoformat(pong["ts"]).timestamp() <= answered + 1
            err = await reply(ws, {"action": "subscribe", "filters": {"max_price_per_gpu_hour": "cheap"}})
            assert err["type"] == "error" and err["code"] == "validation_error" and err["message"]
            # the connection survives a bad message
            assert (await reply(ws, {"action": "ping"}))["type"] == "pong"

    asyncio.run(run())


def test_price_change_through_ingestion_arrives(stack: Stack, tmp_path: Path) -> None:
    if os.environ.get("GPUBROKER_API_URL"):
        pytest.skip("needs the local stack's invoke API")
    with (CATALOGS / "verda" / "vms.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    target = next(r for r in rows if r["AcceleratorName"] and float(r["Price"] or 0) > 0)
    new_total = round(float(target["Price"]) * random.uniform(1.05, 1.5), 4)
    target["Price"] = str(new_total)
    expected = new_total / float(target["AcceleratorCount"])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    catalog = tmp_path / "vms.csv"
    catalog.write_text(out.getvalue())

    async def run() -> list[dict[str, Any]]:
        async with connect(ws_url(stack)) as ws, connect(ws_url(stack)) as other:
            replies = await subscribed(ws, {"provider": "verda"})
            assert [m["type"] for m in replies][:2] == ["subscribed", "snapshot"]
            assert (await subscribed(other, {"provider": "runpod"}))[0]["type"] == "subscribed"
            started = time.time()
            done = await asyncio.to_thread(make_ingest, stack, catalog, "verda")
            assert done.returncode == 0, done.stderr
            got: list[dict[str, Any]] = []
            while not any(abs(m.get("new_price", 0) - expected) < 1e-6 for m in got):
                for msg in await messages(ws, 10):
                    assert msg["type"] in {"price", "removed"} and msg["offer_id"].startswith("verda-")
                    assert datetime.fromisoformat(msg["ts"]).timestamp() >= started - 1
                    got.append(msg)
            with pytest.raises(TimeoutError):  # the runpod subscriber hears nothing about verda
                await asyncio.wait_for(other.recv(), 0.5)
            return got

    got = asyncio.run(run())
    changed = next(m for m in got if abs(m.get("new_price", 0) - expected) < 1e-6)
    assert set(changed) == {"type", "seq", "offer_id", "old_price", "new_price", "ts"}
    assert changed["old_price"] is None or changed["old_price"] != changed["new_price"]


def test_a_client_killed_mid_stream_resumes_without_missing_a_change(stack: Stack, tmp_path: Path) -> None:
    """A client dies (no close frame) while a run's changes stream in; two more runs change prices while it is
    gone; it reconnects with ``resume_from``: replayed and live changes together leave it with exactly the table's
    live offers at their prices. A resume the buffer cannot serve is answered with ``resync`` and a snapshot."""
    if os.environ.get("GPUBROKER_API_URL"):
        pytest.skip("needs the local stack's invoke API")
    rng = random.Random(20261205)
    client = Client()

    async def run() -> None:
        async with connect(ws_url(stack), max_queue=None) as first:
            client.take(await subscribed(first, {"provider": "verda"}))
            assert client.state() == live_offers(stack, "verda")  # the snapshot is the table
            ingest = asyncio.create_task(asyncio.to_thread(make_ingest, stack, modified("verda", tmp_path, rng, 20),
                                                           "verda"))  # fmt: skip
            client.take(await messages(first, 30))  # the first frame of the run's changes, then the kill
            first.transport.abort()
            assert (await ingest).returncode == 0
        for _ in range(2):
            assert (
                await asyncio.to_thread(make_ingest, stack, modified("verda", tmp_path, rng, 10), "verda")
            ).returncode == 0
        async with connect(ws_url(stack), max_queue=None) as again:
            replies = await subscribed(again, {"provider": "verda"}, resume_from=client.seen)
            kinds = {m["type"] for m in replies}
            assert "snapshot" not in kinds and kinds & {"price", "removed"}  # a replay, not a fresh start
            client.take(replies)
            assert client.state() == live_offers(stack, "verda")
            stale = await subscribed(again, {"provider": "verda"}, resume_from=10**12)
            assert [m["type"] for m in stale][:3] == ["subscribed", "resync", "snapshot"]

    asyncio.run(run())
