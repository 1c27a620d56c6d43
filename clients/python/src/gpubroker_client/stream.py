"""The live price feed over WebSocket (public; signed in, booking updates come too), as typed messages.

The feed's messages are not in the OpenAPI document (it covers REST only), so their models are written here from
the protocol the API documents: ``subscribed``, ``snapshot`` pages, then ``price`` and ``removed`` changes, each
with a ``seq``; ``resync`` when a resume cannot be replayed; ``pong``; ``error``; ``booking``. Frames of several
messages (``batch``) are unpacked. The iterator pings every 30 s (the API closes connections silent for 90 s).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, Generator
from typing import Annotated, Any, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from gpubroker_client.errors import ApiError, ApiUnreachable, describe
from gpubroker_client.models import BookingView
from gpubroker_client.session import Session

PING_EVERY_S = 30.0


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow")


class Subscribed(_Message):
    type: Literal["subscribed"]
    filters: dict[str, Any]
    seq: int


class SnapshotOffer(_Message):
    offer_id: str
    provider: str
    gpu_model: str
    gpu_count: int
    region: str
    price_per_hour: float
    price_per_gpu_hour: float


class Snapshot(_Message):
    type: Literal["snapshot"]
    seq: int
    snapshot_version: str | None = None
    count: int
    page: int
    offers: list[SnapshotOffer]
    more: bool
    next_cursor: str | None = None


class PriceChange(_Message):
    type: Literal["price"]
    seq: int
    offer_id: str
    old_price: float | None
    new_price: float
    ts: str


class Removed(_Message):
    type: Literal["removed"]
    seq: int
    offer_id: str
    old_price: float | None
    reason: str
    ts: str


class Resync(_Message):
    type: Literal["resync"]
    reason: str
    seq: int | None
    resubscribe: bool


class Pong(_Message):
    type: Literal["pong"]
    ts: str


class StreamError(_Message):
    type: Literal["error"]
    code: str
    message: str = ""


class BookingUpdate(_Message):
    type: Literal["booking"]
    booking: BookingView


StreamMessage = Annotated[
    Subscribed | Snapshot | PriceChange | Removed | Resync | Pong | StreamError | BookingUpdate,
    Field(discriminator="type"),
]
_MESSAGE: TypeAdapter[StreamMessage] = TypeAdapter(StreamMessage)


def default_ws_url(api_url: str) -> str:
    """The local stack's convention: the WebSocket API on the HTTP port + 1 (3000 -> 3001). A deployed stack
    publishes its own URL (the ``WebSocketUrl`` output): pass it (``GPUBROKER_WS``)."""
    parts = urlsplit(api_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    if parts.port is None:
        return urlunsplit((scheme, parts.netloc, parts.path, "", ""))
    return urlunsplit((scheme, f"{parts.hostname}:{parts.port + 1}", "", "", ""))


def decode(frame: str | bytes) -> list[StreamMessage]:
    """One frame's messages (a ``batch`` unpacked), unknown message types skipped (a newer server)."""
    data = json.loads(frame)
    raw = data.get("messages", []) if data.get("type") == "batch" else [data]
    out: list[StreamMessage] = []
    for item in raw:
        try:
            out.append(_MESSAGE.validate_python(item))
        except ValueError:
            continue
    return out


def handshake(ws_url: str, session: Session | None) -> tuple[str, dict[str, str]]:
    """The URL and headers of the handshake: anonymous, or the access token and its fingerprint cookie."""
    if session is None:
        return ws_url, {}
    sep = "&" if "?" in ws_url else "?"
    return f"{ws_url}{sep}{urlencode({'token': session.access_token})}", {"Cookie": session.cookie()}


def subscribe_message(filters: dict[str, Any], resume_from: int | None) -> str:
    body: dict[str, Any] = {"action": "subscribe", "filters": {k: v for k, v in filters.items() if v is not None}}
    if resume_from is not None:
        body["resume_from"] = resume_from
    return json.dumps(body)


def _refused(ws_url: str, exc: Exception) -> Exception:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status is not None:
        return ApiError(int(status), "handshake_refused", f"the WebSocket API refused the connection ({status})")
    return ApiUnreachable(ws_url, describe(exc))


def prices(
    ws_url: str,
    filters: dict[str, Any],
    *,
    session: Session | None = None,
    resume_from: int | None = None,
    open_timeout: float = 10,
) -> Generator[StreamMessage, None, None]:
    """The feed's messages for ``filters`` (``GET /offers``' names), until the caller stops iterating."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    url, headers = handshake(ws_url, session)
    try:
        ws = connect(url, additional_headers=headers, open_timeout=open_timeout)
    except (OSError, TimeoutError, InvalidStatus) as exc:
        raise _refused(ws_url, exc) from exc
    with ws:
        ws.send(subscribe_message(filters, resume_from))
        last_ping = time.monotonic()
        while True:
            wait = max(0.0, PING_EVERY_S - (time.monotonic() - last_ping))
            try:
                frame = ws.recv(timeout=wait)
            except TimeoutError:
                ws.send(json.dumps({"action": "ping"}))
                last_ping = time.monotonic()
                continue
            for message in decode(frame):
                if isinstance(message, StreamError):
                    raise ApiError(400, message.code, message.message)
                yield message


async def aprices(
    ws_url: str,
    filters: dict[str, Any],
    *,
    session: Session | None = None,
    resume_from: int | None = None,
    open_timeout: float = 10,
) -> AsyncGenerator[StreamMessage, None]:
    """``prices`` for asyncio."""
    import asyncio

    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    url, headers = handshake(ws_url, session)
    try:
        ws = await connect(url, additional_headers=headers, open_timeout=open_timeout)
    except (OSError, TimeoutError, InvalidStatus) as exc:
        raise _refused(ws_url, exc) from exc
    async with ws:
        await ws.send(subscribe_message(filters, resume_from))
        last_ping = time.monotonic()
        while True:
            wait = max(0.0, PING_EVERY_S - (time.monotonic() - last_ping))
            try:
                frame = await asyncio.wait_for(ws.recv(), wait)
            except TimeoutError:
                await ws.send(json.dumps({"action": "ping"}))
                last_ping = time.monotonic()
                continue
            for message in decode(frame):
                if isinstance(message, StreamError):
                    raise ApiError(400, message.code, message.message)
                yield message
