"""Every function that reads a WebSocket message refuses one past the message bounds (nesting deeper than the REST
front door takes, a digit run longer, more than API Gateway's 128 KB) with one ``error`` reply carrying the code,
and stores nothing; ``$default`` answers a message no route takes with a code too."""

from __future__ import annotations

import json

import pytest

from gpubroker.api.ws_frames import MAX_MESSAGE_BYTES
from gpubroker.domain.subscriptions import ACTIONS
from tests.component.conftest import handler_module
from tests.component.test_ws_handlers import message_event, subscribe_deps
from tests.events import Ctx
from tests.fakes import FixedClock
from tests.fakes_live import MemoryConnections

PAST_THE_BOUNDS = {
    "body_too_deep": '{"action": "subscribe", "filters": {"gpu": ' + "[" * 33 + "]" * 33 + "}}",
    "number_too_long": '{"action": "subscribe", "resume_from": ' + "7" * 4400 + "}",
    "body_too_large": json.dumps({"action": "subscribe", "filters": {"q": "x" * MAX_MESSAGE_BYTES}}),
}


@pytest.mark.parametrize("code", sorted(PAST_THE_BOUNDS))
def test_subscribe_posts_one_error_with_the_code_and_stores_nothing(code: str) -> None:
    mod = handler_module("ws_subscribe")
    deps = subscribe_deps(mod)
    out = mod.lambda_handler(message_event("subscribe", PAST_THE_BOUNDS[code]), Ctx(), deps=deps)
    assert out == {"statusCode": 200}
    (reply,) = deps.poster.sent["KZ3tBdOmIAMCKWg="]
    assert (reply["type"], reply["code"]) == ("error", code) and reply["details"], reply
    assert deps.connections.items == {}


@pytest.mark.parametrize("code", sorted(PAST_THE_BOUNDS))
@pytest.mark.parametrize("function", ["ws_ping", "ws_default"])
def test_ping_and_default_reply_with_the_code(function: str, code: str) -> None:
    mod = handler_module(function)
    connections = MemoryConnections()
    deps = mod.Deps(connections=connections, clock=FixedClock()) if function == "ws_ping" else mod.Deps()
    out = mod.lambda_handler(message_event(mod.ROUTE_KEY, PAST_THE_BOUNDS[code]), Ctx(), deps=deps)
    reply = json.loads(out["body"])
    assert (out["statusCode"], reply["type"], reply["code"]) == (200, "error", code), reply
    assert connections.items == {}  # a refused ping records no heartbeat


@pytest.mark.parametrize(
    ("body", "code"),
    [("", "invalid_json"), ("{", "invalid_json"), ("[]", "invalid_json"), ("null", "invalid_json"),
     ('{"action": "unsubscribe"}', "unknown_action"), ('{"action": 7}', "unknown_action"), ("{}", "unknown_action")],
)  # fmt: skip
def test_default_names_what_is_wrong_with_a_message_no_route_takes(body: str, code: str) -> None:
    mod = handler_module("ws_default")
    reply = json.loads(mod.lambda_handler(message_event("$default", body), Ctx(), deps=mod.Deps())["body"])
    assert (reply["type"], reply["code"]) == ("error", code)
    if code == "unknown_action":
        assert reply["details"] == {"actions": list(ACTIONS)}
