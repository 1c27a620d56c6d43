"""``BookingNotifier`` over the WebSocket management API: a booking's status to its owner's signed-in connections.

The owner's connections are a Query on the connections table's GSI ``by_user`` (PK ``user_id``, keys only). Only
signed-in connections carry ``user_id`` (``adapters/connections.py`` stores it after ``$connect`` verified the
token), so the index is sparse: an anonymous connection is not in it and can never receive a booking, and a
Query on one user's partition can never return another user's connection.

Message: ``{"type": "booking", "booking": <public view>, "correlation_id": <the creating request's>}``
(``api.booking_models.BookingView``, rendered by the ``view`` the wiring passes: never the connection details).
Posting is the price broadcaster's: the existing ``ApiGatewayConnectionPoster``; a connection the management API
reports gone (410) is deleted, as the broadcaster does. Best effort: a post that fails otherwise is logged
(connection id only) and skipped, so one bad socket never hides the message from the user's other ones; the count of
connections reached is returned.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from gpubroker.adapters.aws import client
from gpubroker.domain.bookings import Booking
from gpubroker.observability import logger
from gpubroker.ports import ConnectionPoster

BY_USER: Final = "by_user"
View = Callable[[Booking], dict[str, Any]]


class WebSocketBookingNotifier:
    def __init__(self, connections_table: str, poster: ConnectionPoster, *, view: View) -> None:
        self.connections_table = connections_table
        self.poster = poster
        self.view = view

    def connections_of(self, user_id: str) -> list[str]:
        ddb = client("dynamodb")
        kwargs: dict[str, Any] = {
            "TableName": self.connections_table,
            "IndexName": BY_USER,
            "KeyConditionExpression": "user_id = :u",
            "ExpressionAttributeValues": {":u": {"S": user_id}},
        }
        out: list[str] = []
        while True:
            page = ddb.query(**kwargs)
            out += [str(item["connection_id"]["S"]) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return sorted(set(out))
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def notify(self, booking: Booking) -> int:
        message: dict[str, Any] = {"type": "booking", "booking": self.view(booking)}
        if booking.correlation_id:
            message["correlation_id"] = booking.correlation_id
        data = json.dumps(message, separators=(",", ":")).encode()
        reached = 0
        for connection_id in self.connections_of(booking.user_id):
            try:
                delivered = self.poster.post(connection_id, data)
            except Exception:  # throttled, 5xx: this socket misses one status; the others still get it
                logger.warning(
                    "booking push failed",
                    exc_info=True,
                    extra={"connection_id": connection_id, "correlation_id": booking.correlation_id},
                )
                continue
            if delivered:
                reached += 1
            else:
                client("dynamodb").delete_item(TableName=self.connections_table,
                                               Key={"connection_id": {"S": connection_id}})  # fmt: skip
        return reached
