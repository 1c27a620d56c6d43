"""The bookings table (``BookingsTable``): the ``BookingStore`` port on DynamoDB.

Keys: PK ``user_id`` (S), SK ``booking_id`` (S): a booking is only ever read under its owner's id, so another
user's booking is simply not found. LSI ``by_created`` sorts a user's bookings by ``created_key`` (S) =
``<created_at, fixed-width ISO-8601 UTC>#<booking_id>``: newest first is a Query with ``ScanIndexForward=False``,
and equal timestamps still order by id.

Item layout: one attribute per ``Booking`` field, written generically from the dataclass's fields (a field the
saga adds later is stored without changing this module): ``str``/``StrEnum`` -> S, ``int`` -> N, ``datetime`` ->
S (fixed-width ISO-8601 UTC), ``Money`` -> M ``{amount: N, currency: S}``, ``dict`` -> S (JSON: no float ever
reaches DynamoDB's number type). ``None`` is no attribute.

Writes: ``create`` is a put conditional on ``attribute_not_exists(booking_id)``; ``save`` an update conditional on
``version = booking.version - 1`` (optimistic locking: the loser of a race gets ``False`` and re-reads). ``save``
sets every field but leaves the connection details alone when the booking in hand carries none (a store without
the key read it without opening them), so a cancel never erases what confirm stored.

Connection details (host, port, user, key...): sealed with KMS (``KmsSecretBox``, encryption context
``purpose=gpubroker-booking-connection``, ``owner=<booking_id>``) into ``connection_sealed`` when the store has a
box; only the store that serves ``GET /bookings/{id}`` is given one that opens. A store without a box writes them
as JSON in ``connection`` (DynamoDB's own encryption at rest only; docs/decisions.md "Booking routes") and never
opens a sealed value. The details never go to a log: ``Booking.connection`` is ``repr=False`` and nothing here
logs an item.

Cursor: opaque base64url of ``{"k": <created_key>}`` of the page's last booking; a malformed one is a 400
``invalid_cursor``. It carries no user id: the Query is always on the caller's partition.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any, Final, Protocol

from gpubroker.adapters.aws import client, conditional_check_failed
from gpubroker.domain.bookings import Booking, is_booking_id
from gpubroker.domain.errors import InvalidCursor
from gpubroker.domain.money import Money

BY_CREATED: Final = "by_created"
SEAL_PURPOSE: Final = "gpubroker-booking-connection"
MAX_PAGE: Final = 100
_KEY_FIELDS: Final = frozenset({"user_id", "booking_id"})
_CONNECTION: Final = "connection"
_SEALED: Final = "connection_sealed"
_CREATED_KEY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z#(bk_[a-z2-7]{26})$")


class SecretBox(Protocol):
    """``adapters.secretbox.KmsSecretBox``."""

    def seal(self, plaintext: str, owner: str) -> str: ...

    def open(self, sealed: str, owner: str) -> str: ...


def utc_text(when: datetime) -> str:
    """``2026-01-31T12:00:00.000000Z``: fixed width, UTC, so the text sorts as the time does."""
    if when.tzinfo is None:
        raise ValueError("naive datetime: booking timestamps are timezone-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def created_key(booking: Booking) -> str:
    return f"{utc_text(booking.created_at)}#{booking.booking_id}"


@cache
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(Booking)


def _kind(name: str) -> type:
    """The non-None type of a Booking field (``Money | None`` -> ``Money``)."""
    hint = _hints()[name]
    base = hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        base = next(a for a in typing.get_args(hint) if a is not type(None))
    origin = typing.get_origin(base)
    return origin if isinstance(origin, type) else base  # dict[str, Any] -> dict


def _to_attr(value: Any) -> dict[str, Any]:
    if isinstance(value, Money):
        return {"M": {"amount": {"N": str(value.amount_minor)}, "currency": {"S": value.currency}}}
    if isinstance(value, datetime):
        return {"S": utc_text(value)}
    if isinstance(value, StrEnum | str):
        return {"S": str(value)}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, dict):
        return {"S": json.dumps(value, sort_keys=True, separators=(",", ":"))}
    raise TypeError(f"no DynamoDB form for {type(value).__name__}")


_READERS: Final[dict[type, Any]] = {
    Money: lambda a: Money(int(a["M"]["amount"]["N"]), a["M"]["currency"]["S"]),
    datetime: lambda a: datetime.fromisoformat(a["S"].replace("Z", "+00:00")),
    bool: lambda a: bool(a["BOOL"]),
    int: lambda a: int(a["N"]),
    dict: lambda a: json.loads(a["S"]),
}


def _from_attr(kind: type, attr: dict[str, Any]) -> Any:
    reader = _READERS.get(kind)
    if reader is not None:
        return reader(attr)
    if issubclass(kind, StrEnum):
        return kind(attr["S"])
    return str(attr["S"])


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"k": key}, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """(created_key, booking_id) of a cursor; ``InvalidCursor`` for anything this module did not write."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = data["k"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise InvalidCursor("cursor is malformed; start again without it") from exc
    match = _CREATED_KEY.match(key) if isinstance(key, str) else None
    if match is None or not is_booking_id(match.group(1)):
        raise InvalidCursor("cursor is malformed; start again without it")
    return key, match.group(1)


def booking_from_item(item: Mapping[str, Any], *, box: SecretBox | None = None) -> Booking:
    """The ``Booking`` of a bookings-table item (DynamoDB JSON: a ``get_item``/``query`` item or a stream image).
    Connection details: a sealed value is opened only with ``box`` (else ``connection`` is None); a plain one is
    read. Raises (KeyError, ValueError, TypeError) on an item this module did not write."""
    values: dict[str, Any] = {}
    for f in fields(Booking):
        if f.name == _CONNECTION or f.name not in item:
            continue
        values[f.name] = _from_attr(_kind(f.name), item[f.name])
    values["connection"] = _open(item, values["booking_id"], box)
    return Booking(**values)


def _open(item: Mapping[str, Any], booking_id: str, box: SecretBox | None) -> dict[str, Any] | None:
    if _SEALED in item:
        if box is None:
            return None  # this reader may not open them (and a store's saves leave them as they are)
        opened: dict[str, Any] = json.loads(box.open(item[_SEALED]["S"], booking_id))
        return opened
    if _CONNECTION in item:
        plain: dict[str, Any] = json.loads(item[_CONNECTION]["S"])
        return plain
    return None


class DynamoBookingStore:
    """``ports.BookingStore`` on ``BookingsTable``; see the module docstring."""

    def __init__(self, table_name: str, *, box: SecretBox | None = None) -> None:
        self.table_name = table_name
        self.box = box

    def __repr__(self) -> str:
        return f"DynamoBookingStore({self.table_name!r}, sealed={self.box is not None})"

    # -- item <-> booking ---------------------------------------------------------------------------------------
    def _connection_attrs(self, booking: Booking) -> dict[str, dict[str, Any]]:
        if booking.connection is None:
            return {}
        text = json.dumps(booking.connection, sort_keys=True, separators=(",", ":"))
        if self.box is not None:
            return {_SEALED: {"S": self.box.seal(text, booking.booking_id)}}
        return {_CONNECTION: {"S": text}}

    def _attrs(self, booking: Booking) -> dict[str, dict[str, Any]]:
        """Every non-None field but the keys and the connection, plus ``created_key``."""
        out = {
            f.name: _to_attr(getattr(booking, f.name))
            for f in fields(booking)
            if f.name not in _KEY_FIELDS and f.name != _CONNECTION and getattr(booking, f.name) is not None
        }
        out["created_key"] = {"S": created_key(booking)}
        return out

    def _booking(self, item: Mapping[str, Any]) -> Booking:
        return booking_from_item(item, box=self.box)

    @staticmethod
    def _key(user_id: str, booking_id: str) -> dict[str, Any]:
        return {"user_id": {"S": user_id}, "booking_id": {"S": booking_id}}

    # -- the port -----------------------------------------------------------------------------------------------
    def create(self, booking: Booking) -> bool:
        item = {**self._key(booking.user_id, booking.booking_id), **self._attrs(booking),
                **self._connection_attrs(booking)}  # fmt: skip
        try:
            client("dynamodb").put_item(TableName=self.table_name, Item=item,
                                        ConditionExpression="attribute_not_exists(booking_id)")  # fmt: skip
        except Exception as exc:
            if conditional_check_failed(exc):
                return False
            raise
        return True

    def get(self, user_id: str, booking_id: str) -> Booking | None:
        got = client("dynamodb").get_item(TableName=self.table_name, Key=self._key(user_id, booking_id),
                                          ConsistentRead=True)  # fmt: skip
        item = got.get("Item")
        return self._booking(item) if item else None

    def list(self, user_id: str, *, limit: int, cursor: str | None = None) -> tuple[list[Booking], str | None]:
        limit = max(1, min(limit, MAX_PAGE))
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_CREATED,
            "KeyConditionExpression": "user_id = :u",
            "ExpressionAttributeValues": {":u": {"S": user_id}},
            "ScanIndexForward": False,
            "Limit": limit + 1,  # one more: a next page exists only if it came back
        }
        if cursor:
            key, booking_id = decode_cursor(cursor)
            kwargs["ExclusiveStartKey"] = {**self._key(user_id, booking_id), "created_key": {"S": key}}
        items: list[dict[str, Any]] = []
        while len(items) <= limit:
            page = client("dynamodb").query(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            kwargs["Limit"] = limit + 1 - len(items)
        bookings = [self._booking(item) for item in items[:limit]]
        more = len(items) > limit
        return bookings, (encode_cursor(created_key(bookings[-1])) if more and bookings else None)

    def save(self, booking: Booking) -> bool:
        attrs = {**self._attrs(booking), **self._connection_attrs(booking)}
        absent = [
            f.name
            for f in fields(booking)
            if f.name not in _KEY_FIELDS and f.name != _CONNECTION and getattr(booking, f.name) is None
        ]
        names = {f"#a{i}": name for i, name in enumerate(attrs)}
        values = {f":a{i}": value for i, value in enumerate(attrs.values())}
        expression = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(attrs)))
        if absent:
            names |= {f"#r{i}": name for i, name in enumerate(absent)}
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(absent)))
        names["#v"] = "version"
        values[":prev"] = {"N": str(booking.version - 1)}
        try:
            client("dynamodb").update_item(
                TableName=self.table_name,
                Key=self._key(booking.user_id, booking.booking_id),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(booking_id) AND #v = :prev",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if conditional_check_failed(exc):
                return False
            raise
        return True
