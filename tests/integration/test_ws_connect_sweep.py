"""The WebSocket token check and the heartbeat on their default wiring against DynamoDB (tables from
template.yaml): ``$connect`` verifies a token signed by the real login against the published JWKS and stores only
the user id; ``ping`` records ``last_seen`` on a stored connection only; the sweeper's filtered Scan and
conditional delete, with an injected clock; its @connections DELETE through botocore's Stubber (moto has no
management API)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from gpubroker.adapters.connections import DynamoConnectionRepository
from gpubroker.domain.subscriptions import epoch_ms
from gpubroker.services.connections import sweep_silent
from gpubroker.wiring.realtime import sweep_deps
from tests.component.test_ws_handlers import CONNECT_EVENT, filters, message_event
from tests.events import Ctx
from tests.fakes import FixedClock
from tests.fakes_live import MemoryCloser
from tests.integration.conftest import Endpoint, fresh_handler, wired_auth_deps
from tests.integration.test_auth_flow import PASSWORD, _cookie, call

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("aws")]
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def table(endpoint: Endpoint) -> Iterator[Any]:
    table = boto3.resource("dynamodb", endpoint_url=endpoint.url).Table(endpoint.names["ConnectionsTable"])
    yield table
    for item in table.scan()["Items"]:
        table.delete_item(Key={"connection_id": item["connection_id"]})


def handshake(connection_id: str, token: str | None, cookie: str | None) -> dict[str, Any]:
    ev = copy.deepcopy(CONNECT_EVENT)
    ev["requestContext"]["connectionId"] = connection_id
    if token is not None:
        ev["queryStringParameters"] = {"token": token}
    if cookie is not None:
        ev["headers"]["Cookie"] = cookie
    return ev


def test_connect_verifies_a_real_login_token_and_stores_only_the_user_id(endpoint: Endpoint, table: Any) -> None:
    deps = wired_auth_deps()
    email = "ws-user@example.com"
    assert call("api_auth_register", "/auth/register", {"email": email, "password": PASSWORD}, deps)[0] == 202
    status, tokens, headers = call("api_auth_login", "/auth/login", {"email": email, "password": PASSWORD}, deps)
    assert status == 200
    token, cookie = tokens["access_token"], _cookie(headers)
    connect = fresh_handler("ws_connect")
    assert connect.lambda_handler(handshake("signed-in", token, cookie), Ctx())["statusCode"] == 200
    item = table.get_item(Key={"connection_id": "signed-in"})["Item"]
    assert set(item) == {"connection_id", "connected_at", "last_seen", "ttl", "user_id"}
    assert item["user_id"] == deps.auth.users.by_email(email).user_id  # type: ignore[union-attr]
    assert token not in json.dumps(item, default=str)
    for bad_token, bad_cookie in [("garbage", cookie), (token, None), (tokens["refresh_token"], cookie)]:
        assert connect.lambda_handler(handshake("refused", bad_token, bad_cookie), Ctx())["statusCode"] == 401
    assert "Item" not in table.get_item(Key={"connection_id": "refused"})
    # logout revokes the session: its access token no longer opens a connection
    assert call("api_auth_logout", "/auth/logout", {"refresh_token": tokens["refresh_token"]}, deps,
                cookie=cookie)[0] == 200  # fmt: skip
    assert connect.lambda_handler(handshake("after-logout", token, cookie), Ctx())["statusCode"] == 401
    assert connect.lambda_handler(handshake("anonymous", None, None), Ctx())["statusCode"] == 200


def test_ping_records_last_seen_only_on_a_stored_connection(endpoint: Endpoint, table: Any) -> None:
    ping = fresh_handler("ws_ping")
    assert fresh_handler("ws_connect").lambda_handler(handshake("c-ping", None, None), Ctx())["statusCode"] == 200
    before = int(table.get_item(Key={"connection_id": "c-ping"})["Item"]["last_seen"])
    out = json.loads(ping.lambda_handler(message_event("ping", '{"action": "ping"}', "c-ping"), Ctx())["body"])
    assert out["type"] == "pong" and int(table.get_item(Key={"connection_id": "c-ping"})["Item"]["last_seen"]) >= before
    out = json.loads(ping.lambda_handler(message_event("ping", '{"action": "ping"}', "unknown"), Ctx())["body"])
    assert out["code"] == "not_connected" and "Item" not in table.get_item(Key={"connection_id": "unknown"})


@pytest.mark.parametrize("segments", [1, 3])
def test_the_sweeper_scans_deletes_and_closes_only_the_silent(endpoint: Endpoint, table: Any, segments: int) -> None:
    """A connection silent 91 s is swept with its subscription; one that pinged at 60 s is not; a ping landing
    between the Scan and the delete keeps its connection (the conditional delete)."""
    repo = DynamoConnectionRepository(endpoint.names["ConnectionsTable"], segments=segments)
    for cid in ("silent", "pinged", "raced"):
        repo.connect(cid, at=T0, user_id="u1")
        repo.subscribe(cid, filters(gpu="H100-SXM"), at=T0)
    for i in range(40):  # enough others, recently heard from, that the Scan filter has something to leave out
        repo.connect(f"fresh-{i:02d}", at=T0 + timedelta(seconds=80), user_id=None)
    table.put_item(Item={"connection_id": "legacy", "connected_at": (T0 - timedelta(hours=3)).isoformat(),
                         "token": "opaque-token"})  # fmt: skip
    assert repo.touch("pinged", at=T0 + timedelta(seconds=60))
    clock = FixedClock(T0 + timedelta(seconds=91))
    seen = {c.connection_id for c in repo.seen_before(clock.now() - timedelta(seconds=90))}
    assert seen == {"silent", "raced", "legacy"}
    assert repo.touch("raced", at=clock.now())  # heard from after the read: the conditional delete keeps it
    assert repo.delete_silent("raced", cutoff=clock.now() - timedelta(seconds=90)) is False
    closer = MemoryCloser(open={"silent"})  # "legacy"'s socket is long gone
    report = sweep_silent(connections=repo, closer=closer, clock=clock, concurrency=4)
    assert (report.silent, report.swept, report.closed, report.gone) == (2, 2, 1, 1) and closer.closed == ["silent"]
    left = {i["connection_id"] for i in table.scan()["Items"]}
    assert {"silent", "legacy"}.isdisjoint(left) and {"pinged", "raced"} <= left
    subscribed = repo.subscribers(["gpu#H100-SXM"])
    assert sorted(cid for cid, _ in subscribed) == ["pinged", "raced"]  # the index lost the swept subscription
    assert int(table.get_item(Key={"connection_id": "raced"})["Item"]["last_seen"]) == epoch_ms(clock.now())


def test_the_sweeper_closes_through_the_management_api_and_a_gone_socket_is_fine(endpoint: Endpoint) -> None:
    fresh_handler("sweep_connections")
    closer = sweep_deps().closer  # the default wiring's @connections adapter
    with Stubber(closer.client) as stub:  # type: ignore[attr-defined]
        stub.add_response("delete_connection", {}, {"ConnectionId": "open"})
        stub.add_client_error("delete_connection", "GoneException", http_status_code=410,
                              expected_params={"ConnectionId": "gone"})  # fmt: skip
        assert closer.close("open") is True and closer.close("gone") is False


def test_the_sweeper_on_its_default_wiring(endpoint: Endpoint, table: Any) -> None:
    """The function as deployed (settings from the template's environment): nothing silent, nothing done."""
    mod = fresh_handler("sweep_connections")
    assert fresh_handler("ws_connect").lambda_handler(handshake("now", None, None), Ctx())["statusCode"] == 200
    assert mod.lambda_handler({"job": "sweep-connections"}, Ctx()) == {"silent": 0, "swept": 0, "closed": 0,
                                                                       "gone": 0, "close_failed": 0}  # fmt: skip
