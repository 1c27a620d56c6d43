"""The local stack's WebSocket front over a real socket, with the template's routes and the real handlers on their
default wiring (moto): a message past the bounds the REST front door holds (nesting, digit runs) gets one ``error``
reply with a code and the connection stays open - a thousand levels of nesting used to close it with 1011 - and a
frame past API Gateway's 32 KB closes it with 1009, as API Gateway does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from gpubroker.api.ws_frames import MAX_FRAME_BYTES
from infra.local.runtime import Runtime
from infra.local.stack import free_port
from infra.local.ws_front import WebSocketFront, selection_expression
from tests.integration.conftest import Endpoint

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("aws")]


@pytest.fixture
def ws(endpoint: Endpoint) -> Iterator[ClientConnection]:
    routes = endpoint.app.ws_routes
    front = WebSocketFront("127.0.0.1", free_port(), Runtime(endpoint.app, isolated=False), routes,
                           selection_expression=selection_expression(endpoint.app.template, routes[0].api))  # fmt: skip
    front.start()
    try:
        with connect(front.url, open_timeout=10) as client:
            yield client
    finally:
        front.stop()


def ask(ws: ClientConnection, frame: str) -> dict[str, Any]:
    ws.send(frame)
    reply: dict[str, Any] = json.loads(ws.recv(timeout=10))
    return reply


def still_open(ws: ClientConnection) -> None:
    assert ask(ws, json.dumps({"action": "ping"}))["type"] == "pong"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('{"action": "subscribe", "filters": ' + "[" * 1000 + "]" * 1000 + "}", "body_too_deep"),
        ('{"action": "ping", "x": ' + "{" * 40 + "}" * 40 + "}", "body_too_deep"),
        ('{"action": "subscribe", "resume_from": ' + "9" * 5000 + "}", "number_too_long"),
        ('{"action": "ping", "n": ' + "1" * 1001 + "}", "number_too_long"),
    ],
    ids=["deep-subscribe", "deep-ping", "long-number-subscribe", "long-number-ping"],
)
def test_a_message_past_the_bounds_gets_an_error_reply_and_the_socket_stays_open(
    ws: ClientConnection, frame: str, code: str
) -> None:
    reply = ask(ws, frame)
    assert (reply["type"], reply["code"]) == ("error", code), reply
    assert reply["message"] and reply["details"]
    still_open(ws)


def test_a_message_no_route_takes_gets_an_error_reply_with_a_code(ws: ClientConnection) -> None:
    assert ask(ws, "not json")["code"] == "invalid_json"
    assert ask(ws, "[1, 2]")["code"] == "invalid_json"
    unknown = ask(ws, json.dumps({"action": "unsubscribe"}))
    assert unknown["code"] == "unknown_action" and unknown["details"] == {"actions": ["subscribe", "ping"]}
    assert ask(ws, json.dumps({"filters": {}}))["code"] == "unknown_action"
    assert ask(ws, json.dumps({"action": "$connect"}))["code"] == "unknown_action"
    still_open(ws)


def test_a_frame_larger_than_api_gateways_closes_the_connection_with_1009(ws: ClientConnection) -> None:
    still_open(ws)
    ws.send(json.dumps({"action": "ping", "pad": "x" * MAX_FRAME_BYTES}))
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
