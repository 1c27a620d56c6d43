"""The WebSocket connection lifecycle: ``$connect`` (the token verified), ``$disconnect``, ``ping`` (the heartbeat)
and the sweeper that removes silent connections (``subscribe``, which reads the offer snapshot, is
services/subscriptions.py)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from gpubroker.domain.subscriptions import (
    ACTIONS,
    SILENCE_LIMIT_S,
    ErrorReply,
    Pong,
    error_message,
    is_silent,
    pong_message,
    silence_cutoff,
)
from gpubroker.ports import Clock, ConnectionCloser, ConnectionRepository

if TYPE_CHECKING:  # PyJWT / cryptography load with the identity service, in $connect only
    from gpubroker.services.identity import IdentityDeps


def open_connection(
    connection_id: str,
    token: str | None,
    fingerprint: str | None,
    *,
    connections: ConnectionRepository,
    identity: IdentityDeps,
    clock: Clock,
) -> str | None:
    """``$connect``: without a token, an anonymous connection (the price feed is public); with one, the token is
    checked exactly as the REST authorizer checks it (``services.identity.authenticate``: signature against the
    published keys, ``typ``, times, the fingerprint cookie, the session not revoked) and only the user id is
    stored, never the token. Returns the user id (None: anonymous); raises InvalidToken, and nothing is stored."""
    user_id = None
    if token is not None:
        from gpubroker.services.identity import authenticate

        user_id = authenticate(token, fingerprint, deps=identity).user_id
    connections.connect(connection_id, at=clock.now(), user_id=user_id)
    return user_id


def close_connection(connection_id: str, *, connections: ConnectionRepository) -> None:
    connections.delete(connection_id)


NOT_CONNECTED = error_message(
    "not_connected", f"this connection was closed after a silence of more than {SILENCE_LIMIT_S} s; connect again"
)


def ping(connection_id: str, *, connections: ConnectionRepository, clock: Clock) -> Pong | ErrorReply:
    """The heartbeat: record ``last_seen`` and answer with the server's time; a connection the sweeper removed
    (its close may not have reached the socket) is told to connect again."""
    now = clock.now()
    if not connections.touch(connection_id, at=now):
        return NOT_CONNECTED
    return pong_message(now)


@dataclass
class SweepReport:
    silent: int = 0  # connections found silent for more than SILENCE_LIMIT_S
    swept: int = 0  # their items deleted (the others were heard from meanwhile)
    closed: int = 0  # sockets closed by the sweep
    gone: int = 0  # sockets already closed (410 GoneException)
    close_failed: int = 0  # closes that failed otherwise (the item is gone; the client's next ping is refused)


def sweep_silent(
    *, connections: ConnectionRepository, closer: ConnectionCloser, clock: Clock, concurrency: int = 16
) -> SweepReport:
    """Remove every connection silent for more than ``SILENCE_LIMIT_S``: delete its item (and so its
    subscription) unless a message arrived since the read, then close its socket (a GoneException is fine)."""
    now = clock.now()
    cutoff = silence_cutoff(now)
    silent = [c.connection_id for c in connections.seen_before(cutoff) if is_silent(c, now)]
    report = SweepReport(silent=len(silent))

    def sweep(connection_id: str) -> Literal["kept", "closed", "gone", "failed"]:
        if not connections.delete_silent(connection_id, cutoff=cutoff):
            return "kept"
        try:
            return "closed" if closer.close(connection_id) else "gone"
        except Exception:  # a throttle or a 5xx: the item is gone, the socket may stay until API Gateway's limits
            return "failed"

    if not silent:
        return report
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(silent)))) as pool:
        outcomes = list(pool.map(sweep, silent))
    report.swept = sum(o != "kept" for o in outcomes)
    report.closed = outcomes.count("closed")
    report.gone = outcomes.count("gone")
    report.close_failed = outcomes.count("failed")
    return report


def unrouted(body: str | None) -> ErrorReply:
    """``$default``: the ``error`` reply to a message no route takes - not a JSON object (``invalid_json``), or
    one whose ``action`` is missing or names no action (``unknown_action``, with the actions there are). The body
    is within the message bounds (``gpubroker.api.ws_frames``): parsing it cannot recurse or convert without end."""
    try:
        message = json.loads(body or "")
    except ValueError:
        message = None
    if not isinstance(message, dict):
        return error_message("invalid_json", "the message is not a JSON object")
    return error_message(
        "unknown_action",
        'the message\'s "action" is missing or names no action',
        {"actions": list(ACTIONS)},
    )
