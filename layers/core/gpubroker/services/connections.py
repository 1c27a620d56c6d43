"""The WebSocket connection lifecycle: ``$connect``, ``$disconnect`` and ``ping`` (``subscribe``, which reads the
offer snapshot, is services/subscriptions.py)."""

from __future__ import annotations

import json

from gpubroker.domain.subscriptions import ACTIONS, ErrorReply, Pong, error_message, pong_message
from gpubroker.ports import Clock, ConnectionRepository


def open_connection(connection_id: str, token: str | None, *, connections: ConnectionRepository, clock: Clock) -> None:
    """``$connect``: anonymous connections are accepted; a ``token`` is only stored (checked by a later issue)."""
    connections.connect(connection_id, at=clock.now(), token=token)


def close_connection(connection_id: str, *, connections: ConnectionRepository) -> None:
    connections.delete(connection_id)


def ping(*, clock: Clock) -> Pong:
    return pong_message(clock.now())


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
