"""The WebSocket token check and the sweeper over a real WebSocket of the local stack: a bad ``?token=`` refuses
the handshake with 401 (as API Gateway does when ``$connect`` answers 401); a signed-in connection stores its user
id and never the token; a connection silent for more than 90 s (its ``last_seen`` set back, no sleeping) is
closed by the sweeper function through ``@connections`` and its item is gone."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import boto3
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK, InvalidStatus

from infra.local.ingest import invoke
from infra.local.sigv4 import LocalCredentials
from tests.e2e.conftest import Stack, session
from tests.e2e.test_websocket import reply, ws_url

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]


def connections_table(stack: Stack) -> Any:
    state = json.loads(stack.state_file.read_text())
    ddb = boto3.resource("dynamodb", endpoint_url=state["aws_endpoint"], region_name="us-east-1")
    return ddb.Table(state["names"]["ConnectionsTable"])


def user_of(headers: dict[str, str]) -> str:
    payload = headers["Authorization"].removeprefix("Bearer ").split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


def items_of(stack: Stack, user_id: str) -> list[dict[str, Any]]:
    table = connections_table(stack)
    return [i for i in table.scan()["Items"] if i.get("user_id") == user_id]


async def refused(url: str, **kw: Any) -> int:
    with pytest.raises(InvalidStatus) as err:
        async with connect(url, open_timeout=10, **kw):
            pass
    return int(err.value.response.status_code)


def test_a_bad_token_refuses_the_handshake_and_a_good_one_stores_only_the_user_id(stack: Stack) -> None:
    base = ws_url(stack)
    if not stack.auth:
        pytest.skip("needs a stack started by the tests (to sign in)")
    headers, _ = session(stack.url, stack.state_file, plan="free", roles=("user",))
    token, cookie, user = headers["Authorization"].removeprefix("Bearer "), headers["Cookie"], user_of(headers)

    async def run() -> None:
        assert await refused(f"{base}/?token=garbage") == 401
        assert await refused(f"{base}/?token={token}") == 401  # the token alone: no fingerprint cookie
        broken = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")  # its signature broken
        assert await refused(f"{base}/?token={broken}", additional_headers={"Cookie": cookie}) == 401
        async with connect(f"{base}/?token={token}", additional_headers={"Cookie": cookie}, open_timeout=10) as ws:
            assert (await reply(ws, {"action": "ping"}))["type"] == "pong"
            (item,) = items_of(stack, user)
            assert "token" not in item and token not in json.dumps(item, default=str)
        async with connect(base, open_timeout=10) as ws:  # anonymous: the price feed is public
            assert (await reply(ws, {"action": "ping"}))["type"] == "pong"

    asyncio.run(run())


def test_the_sweeper_closes_a_connection_silent_for_more_than_90_s(stack: Stack) -> None:
    base = ws_url(stack)
    if not stack.auth:
        pytest.skip("needs the local stack's invoke API and a stack started by the tests")
    headers, _ = session(stack.url, stack.state_file, plan="free", roles=("user",))
    token, cookie, user = headers["Authorization"].removeprefix("Bearer "), headers["Cookie"], user_of(headers)
    table = connections_table(stack)

    async def run() -> None:
        async with connect(f"{base}/?token={token}", additional_headers={"Cookie": cookie}, open_timeout=10) as ws:
            await ws.send(json.dumps({"action": "subscribe", "filters": {"gpu": "H100-SXM"}}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "subscribed"
            (item,) = items_of(stack, user)
            assert item["sub_key"] == "gpu#H100-SXM"
            silent_since = int(item["last_seen"]) - 91_000  # epoch ms: as if its last message were 91 s older
            table.update_item(Key={"connection_id": item["connection_id"]}, UpdateExpression="SET last_seen = :s",
                              ExpressionAttributeValues={":s": silent_since})  # fmt: skip
            creds = LocalCredentials.from_state(json.loads(stack.state_file.read_text()))
            failed, report = await asyncio.to_thread(invoke, stack.url, "SweepConnectionsFunction",
                                                     {"job": "sweep-connections"}, creds)  # fmt: skip
            assert not failed and report["swept"] >= 1 and report["closed"] >= 1, report
            with pytest.raises(ConnectionClosedOK) as closed:
                while True:  # snapshot pages may still be queued before the close
                    await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        assert items_of(stack, user) == []

    asyncio.run(run())
