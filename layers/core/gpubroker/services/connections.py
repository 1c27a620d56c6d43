"""The WebSocket connection lifecycle: ``$connect``, ``$disconnect`` and ``ping`` (``subscribe``, which reads the
offer snapshot, is services/subscriptions.py)."""

from __future__ import annotations

from gpubroker.domain.subscriptions import Pong, pong_message
from gpubroker.ports import Clock, ConnectionRepository


def open_connection(connection_id: str, token: str | None, *, connections: ConnectionRepository, clock: Clock) -> None:
    """``$connect``: anonymous connections are accepted; a ``token`` is only stored (checked by a later issue)."""
    connections.connect(connection_id, at=clock.now(), token=token)


def close_connection(connection_id: str, *, connections: ConnectionRepository) -> None:
    connections.delete(connection_id)


def ping(*, clock: Clock) -> Pong:
    return pong_message(clock.now())
