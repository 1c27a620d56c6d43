"""Live prices: WebSocket connection lifecycle and the broadcaster that fans offer price changes out.

The ports are declared here (next to their only user) as Protocols; adapters/connections.py and
adapters/websocket.py implement them, tests pass in-memory fakes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from gpubroker.domain.subscriptions import (
    Pong,
    PriceChange,
    SubscribeMessage,
    SubscriptionFilters,
    candidate_keys,
    error_message,
    matches,
    pong_message,
    price_message,
    subscribed_message,
)
from gpubroker.ports import Clock


class ConnectionRepository(Protocol):
    def connect(self, connection_id: str, *, at: Any, token: str | None) -> None: ...

    def subscribe(self, connection_id: str, filters: SubscriptionFilters, *, at: Any) -> None: ...

    def delete(self, connection_id: str) -> None: ...

    def subscribers(self, keys: Iterable[str]) -> list[tuple[str, SubscriptionFilters]]: ...


class ConnectionPoster(Protocol):
    def post(self, connection_id: str, data: bytes) -> bool: ...


def open_connection(connection_id: str, token: str | None, *, connections: ConnectionRepository, clock: Clock) -> None:
    """``$connect``: anonymous connections are accepted; a ``token`` is only stored (checked by a later issue)."""
    connections.connect(connection_id, at=clock.now(), token=token)


def close_connection(connection_id: str, *, connections: ConnectionRepository) -> None:
    connections.delete(connection_id)


def subscribe(
    connection_id: str, body: str | None, *, connections: ConnectionRepository, clock: Clock
) -> dict[str, Any]:
    """Validate a ``subscribe`` message and store it; the reply is a ``subscribed`` or an ``error`` message."""
    try:
        message = SubscribeMessage.model_validate_json(body or "")
    except ValidationError as exc:
        details = [{"loc": list(e["loc"]), "type": e["type"], "msg": e["msg"]} for e in exc.errors()]
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            return error_message("invalid_json", "the message is not a JSON object")
        return error_message("validation_error", "the subscription filters failed validation", details)
    connections.subscribe(connection_id, message.filters, at=clock.now())
    return subscribed_message(message.filters)


def ping(*, clock: Clock) -> Pong:
    return pong_message(clock.now())


@dataclass
class BroadcastReport:
    changes: int = 0
    subscribers: int = 0
    sent: int = 0
    gone: list[str] = field(default_factory=list)


def broadcast(
    changes: Sequence[PriceChange],
    *,
    connections: ConnectionRepository,
    poster: ConnectionPoster,
    max_workers: int = 16,
) -> BroadcastReport:
    """Post each change to every connection whose filter matches it, in the order of ``changes`` per connection.

    Connections are served concurrently (one task per connection keeps its messages in order); a connection the
    management API reports gone is deleted and gets nothing more.
    """
    report = BroadcastReport(changes=len(changes))
    if not changes:
        return report
    keys: set[str] = set()
    for change in changes:
        keys |= candidate_keys(change)
    outbox: dict[str, list[bytes]] = {}
    for connection_id, filters in connections.subscribers(keys):
        if connection_id in outbox:
            continue
        messages = [json.dumps(price_message(c)).encode() for c in changes if matches(filters, c)]
        if messages:
            outbox[connection_id] = messages
    report.subscribers = len(outbox)

    def deliver(item: tuple[str, list[bytes]]) -> tuple[str, int, bool]:
        connection_id, messages = item
        for n, data in enumerate(messages):
            if not poster.post(connection_id, data):
                return connection_id, n, False
        return connection_id, len(messages), True

    if len(outbox) <= 1:
        results = [deliver(item) for item in outbox.items()]
    else:
        with ThreadPoolExecutor(max_workers=min(max_workers, len(outbox))) as pool:
            results = list(pool.map(deliver, outbox.items()))
    for connection_id, sent, alive in results:
        report.sent += sent
        if not alive:
            connections.delete(connection_id)
            report.gone.append(connection_id)
    return report
