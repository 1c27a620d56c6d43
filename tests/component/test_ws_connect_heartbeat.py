"""WebSocket ``$connect`` verifies a ``?token=`` as the REST authorizer does and keeps only the user id; the
heartbeat records ``last_seen`` (connect, ping, subscribe) and the sweeper removes connections silent for more than
90 s - real API Gateway event JSON in, in-memory ports, an injected clock (no sleeps)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from gpubroker.domain.subscriptions import epoch_ms
from gpubroker.domain.tokens import PublishedKeys, issue
from gpubroker.services.identity import IdentityDeps
from tests.component.conftest import handler_module
from tests.component.test_ws_handlers import CONNECT_EVENT, filters, message_event, subscribe_deps
from tests.events import Ctx
from tests.fakes import FixedClock
from tests.fakes_auth import MemoryRefresh
from tests.fakes_live import MemoryCloser, MemoryConnections
from tests.unit.test_tokens import FP, MATRIX, NOW, POLICY, RING

CONNECT = handler_module("ws_connect")
PING = handler_module("ws_ping")
SWEEP = handler_module("sweep_connections")
CID = "KZ3tBdOmIAMCKWg="


def identity(sessions: MemoryRefresh | None = None, clock: FixedClock | None = None) -> IdentityDeps:
    if sessions is None:
        sessions = MemoryRefresh()
        sessions.start_family("f1", "u1", 2_000_000_000)
    return IdentityDeps(keys=PublishedKeys.from_jwks(RING.jwks()), policy=POLICY, clock=clock or FixedClock(NOW),
                        sessions=sessions)  # fmt: skip


def access_token(**extra: Any) -> str:
    token, _ = issue("access", ring=RING, policy=POLICY, now=NOW, subject="u1", family="f1", fingerprint=FP,
                     extra={"plan": "pro", "roles": ["user"], **extra})  # fmt: skip
    return token


def connect_event(token: str | None, cookie: str | None = f"__Host-gpb_fgp={FP}") -> dict[str, Any]:
    """The handshake as API Gateway passes it: ``?token=`` in the query, the browser's cookie in the headers."""
    ev = copy.deepcopy(CONNECT_EVENT)
    if token is not None:
        ev["queryStringParameters"] = {"token": token}
        ev["multiValueQueryStringParameters"] = {"token": [token]}
    if cookie is not None:
        ev["headers"]["Cookie"] = cookie
        ev["multiValueHeaders"]["Cookie"] = [cookie]
    return ev


def connect(event: dict[str, Any], conns: MemoryConnections, ident: IdentityDeps | None = None) -> int:
    deps = CONNECT.Deps(connections=conns, identity=ident or identity(), clock=FixedClock(NOW))
    status: int = CONNECT.lambda_handler(event, Ctx(), deps=deps)["statusCode"]
    return status


# ------------------------------------------------------------------------------------------------ $connect


def test_a_valid_token_connects_and_only_its_user_id_is_stored() -> None:
    conns = MemoryConnections()
    token = access_token()
    assert connect(connect_event(token), conns) == 200
    item = conns.items[CID]
    assert item["user_id"] == "u1" and item["last_seen"] == epoch_ms(NOW)
    assert token not in json.dumps(item, default=str) and "token" not in item


def test_anonymous_connections_are_accepted_the_price_feed_is_public() -> None:
    conns = MemoryConnections()
    for query in (None, {}, {"token": ""}):  # no query string, an empty one, an empty token
        ev = connect_event(None, cookie=None)
        ev["queryStringParameters"] = query
        assert connect(ev, conns) == 200
        assert conns.items.pop(CID) == {"connected_at": NOW, "last_seen": epoch_ms(NOW)}


@pytest.mark.parametrize(
    "token", ["garbage", "opaque-token", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "x" * 4000], ids=lambda t: t[:16]
)
def test_a_garbage_token_refuses_the_handshake_and_stores_nothing(token: str) -> None:
    conns = MemoryConnections()
    assert connect(connect_event(token), conns) == 401
    assert conns.items == {}


@pytest.mark.parametrize("name", sorted(n for n, (_, kind, _, _) in MATRIX.items() if kind == "access"))
def test_every_bad_token_of_the_authorizers_matrix_is_refused(name: str) -> None:
    """The same matrix the REST authorizer refuses: expired, wrong type (a refresh token), wrong key, alg none,
    tampered, wrong audience or issuer, no or a wrong fingerprint cookie, ..."""
    token, _, fingerprint, _ = MATRIX[name]
    conns = MemoryConnections()
    assert connect(connect_event(token, f"__Host-gpb_fgp={fingerprint}" if fingerprint else None), conns) == 401
    assert conns.items == {}


def test_a_token_of_a_revoked_session_or_past_its_expiry_is_refused() -> None:
    sessions = MemoryRefresh()
    sessions.start_family("f1", "u1", 2_000_000_000)
    token, conns = access_token(), MemoryConnections()
    assert connect(connect_event(token), conns, identity(sessions)) == 200
    sessions.revoke_family("f1")  # logout
    assert connect(connect_event(token), MemoryConnections(), identity(sessions)) == 401
    later = FixedClock(NOW)
    later.advance(16 * 60)  # an access token lives 15 minutes
    assert connect(connect_event(token), MemoryConnections(), identity(clock=later)) == 401


# ------------------------------------------------------------------------------------------------ heartbeat


def ping(conns: MemoryConnections, clock: FixedClock, cid: str = CID) -> dict[str, Any]:
    out = PING.lambda_handler(message_event("ping", '{"action": "ping"}', cid), Ctx(),
                              deps=PING.Deps(connections=conns, clock=clock))  # fmt: skip
    body: dict[str, Any] = json.loads(out["body"])
    return body


def sweep(conns: MemoryConnections, closer: MemoryCloser, clock: FixedClock) -> dict[str, Any]:
    deps = SWEEP.Deps(connections=conns, closer=closer, clock=clock)
    report: dict[str, Any] = SWEEP.lambda_handler({"job": "sweep-connections"}, Ctx(), deps=deps)
    return report


def test_ping_records_last_seen_and_answers_with_the_server_time() -> None:
    conns, clock = MemoryConnections(), FixedClock(NOW)
    conns.connect(CID, at=clock.now(), user_id=None)
    clock.advance(30)
    assert ping(conns, clock) == {"type": "pong", "ts": "2026-11-26T12:00:30.000Z"}
    assert conns.items[CID]["last_seen"] == epoch_ms(clock.now())


def test_a_subscribe_is_heard_from_too() -> None:
    mod = handler_module("ws_subscribe")
    clock = FixedClock(NOW)
    deps = subscribe_deps(mod, clock=clock)
    deps.connections.connect(CID, at=clock.now(), user_id=None)
    clock.advance(45)
    mod.lambda_handler(message_event("subscribe", '{"action": "subscribe"}'), Ctx(), deps=deps)
    assert deps.connections.items[CID]["last_seen"] == epoch_ms(clock.now())


def test_a_connection_silent_91_s_is_swept_one_that_pinged_at_60_s_is_not() -> None:
    conns, closer, clock = MemoryConnections(), MemoryCloser(open={"silent", "pinged"}), FixedClock(NOW)
    for cid in ("silent", "pinged"):
        conns.connect(cid, at=clock.now(), user_id="u1")
        conns.subscribe(cid, filters(gpu="H100-SXM"), at=clock.now())
    clock.advance(60)
    assert ping(conns, clock, "pinged")["type"] == "pong"
    clock.advance(30)  # 90 s: silent for exactly the limit is not yet silent
    assert sweep(conns, closer, clock)["swept"] == 0 and set(conns.items) == {"silent", "pinged"}
    clock.advance(1)  # 91 s
    report = sweep(conns, closer, clock)
    assert report == {"silent": 1, "swept": 1, "closed": 1, "gone": 0, "close_failed": 0}
    assert set(conns.items) == {"pinged"} and closer.closed == ["silent"]  # its subscription went with its item
    clock.advance(60)  # the pinged one: 91 s since its ping at 60 s
    assert sweep(conns, closer, clock)["closed"] == 1 and conns.items == {}


def test_a_socket_already_gone_is_fine_and_a_ping_after_the_sweep_is_told_to_reconnect() -> None:
    conns, clock = MemoryConnections(), FixedClock(NOW)
    conns.connect(CID, at=clock.now(), user_id=None)
    clock.advance(91)
    assert sweep(conns, MemoryCloser(), clock) == {"silent": 1, "swept": 1, "closed": 0, "gone": 1,
                                                   "close_failed": 0}  # fmt: skip
    reply = ping(conns, clock)
    assert reply["type"] == "error" and reply["code"] == "not_connected"
    assert conns.items == {}  # a ping never creates an item


def test_a_close_that_fails_does_not_stop_the_sweep() -> None:
    class Throttled(MemoryCloser):
        def close(self, connection_id: str) -> bool:
            if connection_id == "a":
                raise RuntimeError("LimitExceededException")
            return super().close(connection_id)

    conns, clock = MemoryConnections(), FixedClock(NOW)
    for cid in ("a", "b"):
        conns.connect(cid, at=clock.now(), user_id=None)
    clock.advance(120)
    report = sweep(conns, Throttled(open={"a", "b"}), clock)
    assert report == {"silent": 2, "swept": 2, "closed": 1, "gone": 0, "close_failed": 1} and conns.items == {}


def test_an_item_from_before_the_heartbeat_is_swept_only_past_api_gateways_two_hours() -> None:
    """Items written before ``last_seen`` existed: their clients' next ping records one; one never heard from again
    cannot be open after API Gateway's maximum connection duration."""
    conns, clock = MemoryConnections(), FixedClock(NOW)
    conns.items["legacy"] = {"connected_at": clock.now(), "token": "opaque-token"}
    clock.advance(2 * 3600)
    assert sweep(conns, MemoryCloser(), clock)["swept"] == 0
    clock.advance(1)
    assert sweep(conns, MemoryCloser(), clock)["swept"] == 1 and conns.items == {}
