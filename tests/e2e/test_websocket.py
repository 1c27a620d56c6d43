"""Live prices over a real WebSocket: the local stack (or GPUBROKER_WS_URL), a price change through the ingestion
function's invoke path (what `make ingest` runs) arrives as a ``price`` message; ping -> pong."""

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

import pytest
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
            assert (await reply(ws, {"action": "subscribe", "filters": {"provider": "verda"}}))["type"] == "subscribed"
            sub = await reply(other, {"action": "subscribe", "filters": {"provider": "runpod"}})
            assert sub["type"] == "subscribed"
            started = time.time()
            done = await asyncio.to_thread(make_ingest, stack, catalog, "verda")
            assert done.returncode == 0, done.stderr
            got: list[dict[str, Any]] = []
            while not any(abs(m["new_price"] - expected) < 1e-6 for m in got):
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert msg["type"] == "price" and msg["offer_id"].startswith("verda-")
                assert datetime.fromisoformat(msg["ts"]).timestamp() >= started - 1
                got.append(msg)
            with pytest.raises(TimeoutError):  # the runpod subscriber hears nothing about verda
                await asyncio.wait_for(other.recv(), 0.5)
            return got

    got = asyncio.run(run())
    changed = next(m for m in got if abs(m["new_price"] - expected) < 1e-6)
    assert set(changed) == {"type", "offer_id", "old_price", "new_price", "ts"}
    assert changed["old_price"] is None or changed["old_price"] != changed["new_price"]
