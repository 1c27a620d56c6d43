"""The WebSocket connection lifecycle: ``$connect``, ``$disconnect``, ``subscribe`` and ``ping``."""

from __future__ import annotations

from pydantic import ValidationError

from gpubroker.domain.providers import provider_names
from gpubroker.domain.subscriptions import (
    ErrorReply,
    Pong,
    Subscribed,
    SubscribeMessage,
    error_message,
    pong_message,
    subscribed_message,
)
from gpubroker.ports import Clock, ConnectionRepository, SnapshotReader


def open_connection(connection_id: str, token: str | None, *, connections: ConnectionRepository, clock: Clock) -> None:
    """``$connect``: anonymous connections are accepted; a ``token`` is only stored (checked by a later issue)."""
    connections.connect(connection_id, at=clock.now(), token=token)


def close_connection(connection_id: str, *, connections: ConnectionRepository) -> None:
    connections.delete(connection_id)


def subscribe(
    connection_id: str,
    body: str | None,
    *,
    connections: ConnectionRepository,
    clock: Clock,
    registry: SnapshotReader | None = None,
) -> Subscribed | ErrorReply:
    """Validate a ``subscribe`` message and store it; the reply is a ``subscribed`` or an ``error`` message.
    ``registry``: the snapshot whose manifest names the providers a filter may name (else only their shape)."""
    context = {"providers": provider_names(registry.manifest())} if registry is not None else None
    try:
        message = SubscribeMessage.model_validate_json(body or "", context=context)
    except ValidationError as exc:
        details = [{"loc": list(e["loc"]), "type": e["type"], "msg": e["msg"]} for e in exc.errors()]
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            return error_message("invalid_json", "the message is not a JSON object")
        return error_message("validation_error", "the subscription filters failed validation", details)
    connections.subscribe(connection_id, message.filters, at=clock.now())
    return subscribed_message(message.filters)


def ping(*, clock: Clock) -> Pong:
    return pong_message(clock.now())
