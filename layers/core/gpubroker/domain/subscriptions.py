"""Live prices over WebSocket: the protocol, the subscription filters, where a subscription is indexed, and the
change feed every message is numbered from.

Protocol (JSON text frames; docs/decisions.md, "Exact live feeds", has the reasons):

- client ``{"action": "subscribe", "filters": {...}, "resume_from": <seq>?}``. ``filters`` are ``GET /offers``'s
  filters under the same names and with the same meaning (``domain.search.OfferFilters``: any GPU spelling
  ``/gpus/{model}`` accepts, regions by name ignoring case or by group ``eu``/``us``/``asia``..., price bounds,
  compliance, provider, counts, memory, vCPUs, RAM, spot); a single value may stand for a one-element list, and
  the first protocol's ``gpu_model`` is still read as ``gpu``. The feed follows live offers: ``available`` can
  only be true. A new subscribe replaces the connection's subscription.
- server, in this order: ``subscribed`` ``{filters (canonical), seq}`` where ``seq`` is the feed's head when the
  subscription took effect; then either the replay of what the client missed (``resume_from`` inside the replay
  buffer) or, for a new subscription or after ``resync`` ``{reason, seq, resubscribe: false}``, ``snapshot``
  messages ``{seq, snapshot_version, count, page, offers, more, next_cursor}`` (up to ``SNAPSHOT_PAGES`` pages of
  ``SNAPSHOT_PAGE_SIZE`` offers, cheapest per GPU-hour first; ``next_cursor`` on the last one continues through
  ``GET /offers`` with the same filters and ``sort=price_per_gpu_hour``) followed by the changes the snapshot may
  not hold yet. Then live changes.
- a change is ``price`` ``{seq, offer_id, old_price, new_price, ts}`` (the offer is in the filter, and appeared,
  entered it or changed price) or ``removed`` ``{seq, offer_id, old_price, reason, ts}`` (it was in the filter and
  left it: ``reason`` ``filtered`` - it no longer matches, e.g. above the price ceiling -, ``unavailable`` or
  ``deleted``). Several changes for one connection in one delivery travel as one ``batch`` frame
  ``{"type": "batch", "messages": [...]}``. ``ts`` is when DynamoDB took the write.
- ``seq`` numbers every change once, across all offers, in the order the broadcaster took them; a client's
  changes have gaps (other offers, other filters). The client rule that makes the state exact: per offer, apply
  a message only if its ``seq`` is greater than the last one applied to that offer (snapshot offers carry the
  snapshot's ``seq``); duplicates and late messages then change nothing. To resume, send the greatest ``seq``
  received as ``resume_from``.
- a server ``resync`` with ``resubscribe: true`` (a delivery was delayed past ``REORDER_WINDOW_S``) asks the
  client to subscribe again without ``resume_from``.
- connecting: ``?token=<access token>`` (optional; the price feed is public) is verified at ``$connect`` as the
  REST authorizer verifies it (signature against the published JWKS, type, expiry, the fingerprint cookie of the
  handshake, the session not revoked); a bad one refuses the handshake with 401. Only the user id is kept.
- heartbeat: the client sends ``{"action": "ping"}`` every ``HEARTBEAT_S``; the server answers ``pong``
  ``{ts}`` (its time). Every message the client sends (ping, subscribe) records ``last_seen``; a connection
  silent for more than ``SILENCE_LIMIT_S`` is swept (functions/sweep_connections, every minute): its item and
  subscription deleted, its socket closed (1000). A ``ping`` on a swept connection is answered ``error``
  ``not_connected``: reconnect.

Storage:

- ConnectionsTable (adapters/connections.py): PK ``connection_id`` (S). One item per open connection:
  ``connected_at``, ``user_id`` (a signed-in connection only; never the token), ``last_seen`` (N, epoch
  milliseconds of the last message from the client, or of the connect), ``filters`` (the canonical filters as a
  JSON string, absent until the client subscribes), ``sub_key`` and ``ttl`` (epoch seconds, 2 hours after the
  last subscribe, the API Gateway maximum connection duration: a backstop only, since DynamoDB's TTL deletes
  lazily, typically within two days of expiry; the sweeper is what removes silent connections). GSI
  ``by_subscription``: PK ``sub_key``, SK ``connection_id``, projection ALL; sparse. ``sub_key`` is the
  subscription's most selective indexed dimension: ``gpu#<model>`` when it names exactly one GPU model, else
  ``provider#<provider>`` when exactly one provider, else ``all`` (a spelling that denotes several models, such
  as plain "H100", falls back to the provider or ``all``).
- PriceFeedTable (adapters/price_feed.py): the numbered changes of the last ``FEED_RETENTION_S`` (the replay
  buffer): PK ``feed`` (S, ``prices``), SK ``seq`` (N, the last seq of one broadcaster batch), ``first``, ``at``,
  ``changes`` (zlib JSON of the batch's old and new offer images), ``ttl``; one counter item
  (``feed = "prices#head"``) hands out the numbers.

Broadcaster access pattern: for one batch of offer changes, Query ``by_subscription`` once per distinct key the
batch touches (``gpu#`` each GPU model, ``provider#`` each provider, of the old and the new image, and ``all``),
then test each distinct filter against the old and the new image (``services.offer_filters.offer_matches``, the
predicate property-tested equal to ``GET /offers``'s mask). No Scan.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from gpubroker.domain.search import OfferFilters

APIGW_MAX_CONNECTION_S = 2 * 60 * 60
"""API Gateway closes every WebSocket connection after 2 hours (a hard quota)."""
APIGW_IDLE_TIMEOUT_S = 10 * 60
"""API Gateway closes a WebSocket connection idle for 10 minutes (a hard quota)."""
CONNECTION_TTL_SECONDS = APIGW_MAX_CONNECTION_S
HEARTBEAT_S = 30
"""How often a client pings."""
SILENCE_LIMIT_S = 90
"""A connection that sent nothing for longer than this (three pings missed) is swept."""
ALL_KEY = "all"

SNAPSHOT_PAGE_SIZE = 100
"""Offers per ``snapshot`` message (about 12 KB: under API Gateway's 32 KB frame)."""
SNAPSHOT_PAGES = 5
"""Snapshot pages pushed on subscribe; past them the client pages on with ``GET /offers`` and ``next_cursor``."""
FEED_RETENTION_S = 15 * 60
"""How far back ``resume_from`` can reach (the replay buffer); older is answered with ``resync`` + snapshot."""
REORDER_WINDOW_S = 60
"""The longest a numbered change may take from its number to its post. A resume replays from this long before the
client's ``resume_from`` (changes numbered earlier but posted later are not lost); a delivery older than this is
not posted: its connections get ``resync`` (``resubscribe: true``) instead."""
SNAPSHOT_MARGIN_S = 150
"""How long before a snapshot's ``created_at`` a write may have happened and still be missing from it: an
ingestion run stamps ``created_at`` before it writes and publishes after (its Timeout is 120 s), and runs one at a
time. After a snapshot, the changes numbered from then on are replayed."""
MAX_REPLAY = 2_000
"""Most changes a resume replays; a longer gap is answered with ``resync`` and a snapshot."""
MAX_BATCH_MESSAGES = 200
"""Messages per ``batch`` frame (about 30 KB: API Gateway's frame limit is 32 KB)."""
MAX_FILTER_VALUES = 32
MAX_FILTER_VALUE_LENGTH = 128

_LIST_FILTERS = tuple(n for n, f in OfferFilters.model_fields.items() if f.annotation == tuple[str, ...])
_LEGACY_NAMES = {"gpu_model": "gpu"}  # the first protocol's names -> the /offers names


class SubscriptionFilters(OfferFilters):
    """``GET /offers``'s filters as a subscribe message gives them: the same names, bounds and errors; besides,
    a single value for a list filter, the first protocol's ``gpu_model``, and ``available`` only true."""

    @model_validator(mode="before")
    @classmethod
    def _wire_forms(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        for old, new in _LEGACY_NAMES.items():
            if old in out:
                if new in out:
                    raise ValueError(f"give {new} or {old}, not both")
                out[new] = out.pop(old)
        for name in _LIST_FILTERS:
            value = out.get(name)
            if isinstance(value, str):
                out[name] = [value]
            elif isinstance(value, list | tuple):
                if len(value) > MAX_FILTER_VALUES:
                    raise ValueError(f"{name}: at most {MAX_FILTER_VALUES} values")
            else:
                continue
            if any(isinstance(v, str) and len(v) > MAX_FILTER_VALUE_LENGTH for v in out[name]):
                raise ValueError(f"{name}: values are at most {MAX_FILTER_VALUE_LENGTH} characters")
        if out.get("available") is False:
            raise ValueError("a price feed follows live offers: available must be true")
        return out


class SubscribeMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Literal["subscribe"]
    filters: SubscriptionFilters = SubscriptionFilters()
    resume_from: int | None = Field(default=None, ge=0, description="the greatest seq received before")


def canonical_json(filters: OfferFilters) -> str:
    """The stored form of normalised filters: only what differs from the defaults, keys sorted (equal filters,
    equal strings: the broadcaster groups subscribers by it)."""
    body = filters.filters().model_dump(mode="json", exclude_defaults=True)
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def sub_key(filters: OfferFilters) -> str:
    """The index partition a (normalised) subscription is stored under (see the module docstring)."""
    if len(filters.gpu) == 1:
        return f"gpu#{filters.gpu[0]}"
    if len(filters.provider) == 1:
        return f"provider#{filters.provider[0]}"
    return ALL_KEY


# ---------------------------------------------------------------------------------------------------- changes


def live_price(offer: Mapping[str, Any] | None) -> float | None:
    """USD per GPU-hour of an offer image that is live (exists and is available), else None."""
    if not offer or not offer.get("available", True):
        return None
    value = offer.get("price_per_gpu_hour")
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class OfferChange:
    """One write to an offer as subscribers may see it: the images before and after (``Offer.model_dump(mode=
    "json")`` dicts as the offers table stores them; None when the item did not or does not exist) and when
    DynamoDB took the write. Whether a subscriber hears of it depends on its filter (:func:`event_for`)."""

    offer_id: str
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    ts: datetime

    @property
    def old_price(self) -> float | None:
        return live_price(self.old)

    @property
    def new_price(self) -> float | None:
        return live_price(self.new)

    def to_json(self) -> dict[str, Any]:
        return {"offer_id": self.offer_id, "old": self.old, "new": self.new, "ts": self.ts.timestamp()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OfferChange:
        return cls(str(data["offer_id"]), data["old"], data["new"], datetime.fromtimestamp(data["ts"], UTC))


_UNSEEN = frozenset({"as_of", "stale"})  # fields no filter reads and no message carries


def _seen(image: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in image.items() if k not in _UNSEEN}


def offer_change(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, ts: datetime) -> OfferChange | None:
    """The change a write makes visible, or None when no subscriber can see a difference (neither image is
    live, or nothing but ``as_of``/``stale`` changed)."""
    if live_price(old) is None and live_price(new) is None:
        return None
    if old is not None and new is not None and _seen(old) == _seen(new):
        return None
    offer_id = (new or old or {}).get("offer_id")
    if offer_id is None:
        return None
    return OfferChange(str(offer_id), old, new, ts)


def candidate_keys(change: OfferChange) -> set[str]:
    """Every partition a subscription whose filter matches the old or the new image can be stored under."""
    keys = {ALL_KEY}
    for image in (change.old, change.new):
        if image:
            keys.add(f"gpu#{image.get('gpu_model')}")
            keys.add(f"provider#{image.get('provider')}")
    return keys


Event = Literal["price", "removed"]


def event_for(change: OfferChange, was: bool, now: bool) -> Event | None:
    """What a subscriber hears, from whether its filter matched the old image (``was``) and matches the new one
    (``now``); a filter matches only live offers. In: ``price`` when the offer appeared, entered the filter or
    changed price; out: ``removed``."""
    if now:
        return "price" if not was or change.old_price != change.new_price else None
    return "removed" if was else None


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One broadcaster batch in the feed: ``changes[i]`` is numbered ``first + i``; ``at`` is when the numbers were
    taken (the broadcaster's clock)."""

    first: int
    at: datetime
    changes: tuple[OfferChange, ...]

    @property
    def last(self) -> int:
        return self.first + len(self.changes) - 1

    def numbered(self) -> Iterator[tuple[int, OfferChange]]:
        for i, change in enumerate(self.changes):
            yield self.first + i, change

    def encode_changes(self) -> bytes:
        return zlib.compress(json.dumps([c.to_json() for c in self.changes], separators=(",", ":")).encode())

    @staticmethod
    def decode_changes(data: bytes) -> tuple[OfferChange, ...]:
        return tuple(OfferChange.from_json(c) for c in json.loads(zlib.decompress(data)))


# ---------------------------------------------------------------------------------------------------- messages


def iso(ts: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix: the ``ts`` of every server message."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def price_message(change: OfferChange, seq: int) -> dict[str, Any]:
    return {
        "type": "price",
        "seq": seq,
        "offer_id": change.offer_id,
        "old_price": change.old_price,
        "new_price": change.new_price,
        "ts": iso(change.ts),
    }


def removed_message(change: OfferChange, seq: int) -> dict[str, Any]:
    if change.new is None:
        reason = "deleted"
    elif change.new_price is None:
        reason = "unavailable"
    else:
        reason = "filtered"
    return {
        "type": "removed",
        "seq": seq,
        "offer_id": change.offer_id,
        "old_price": change.old_price,
        "reason": reason,
        "ts": iso(change.ts),
    }


def change_message(event: Event, change: OfferChange, seq: int) -> dict[str, Any]:
    return price_message(change, seq) if event == "price" else removed_message(change, seq)


def frames(messages: Sequence[str]) -> list[str]:
    """The frames that carry ``messages`` (each already JSON) to one connection: a single message as itself, more
    as ``batch`` frames of at most ``MAX_BATCH_MESSAGES``; none for none."""
    if len(messages) <= 1:
        return list(messages)
    return [
        '{"type":"batch","messages":[' + ",".join(messages[i : i + MAX_BATCH_MESSAGES]) + "]}"
        for i in range(0, len(messages), MAX_BATCH_MESSAGES)
    ]


class SnapshotOffer(BaseModel):
    offer_id: str
    provider: str
    gpu_model: str
    gpu_count: int
    region: str
    price_per_hour: float = Field(description="USD per hour, whole instance")
    price_per_gpu_hour: float = Field(description="USD per GPU-hour")


class Snapshot(BaseModel):
    """One page of the offers a new subscription matches, as of the change numbered ``seq``."""

    type: Literal["snapshot"] = "snapshot"
    seq: int
    snapshot_version: str | None
    count: int = Field(description="offers matching the filters in this snapshot")
    page: int = Field(ge=1)
    offers: list[SnapshotOffer]
    more: bool = Field(description="another snapshot message follows")
    next_cursor: str | None = Field(description="continue with GET /offers (same filters, sort=price_per_gpu_hour)")


class Subscribed(BaseModel):
    """The first reply to a valid ``subscribe``: the filters now in force (canonical, defaults left out) and the
    feed's head when the subscription took effect."""

    type: Literal["subscribed"] = "subscribed"
    filters: dict[str, Any]
    seq: int


class Resync(BaseModel):
    """The replay cannot cover the gap: a snapshot follows (``resubscribe`` false), or the client must subscribe
    again without ``resume_from`` (``resubscribe`` true)."""

    type: Literal["resync"] = "resync"
    reason: str
    seq: int | None = Field(description="the feed's head (null when the server asks to resubscribe)")
    resubscribe: bool


class Pong(BaseModel):
    """The reply to a client's ``ping``: the server time."""

    type: Literal["pong"] = "pong"
    ts: str


def pong_message(now: datetime) -> Pong:
    return Pong(ts=iso(now))


@dataclass(frozen=True, slots=True)
class SeenConnection:
    """A stored connection as the sweeper reads it: when the client was last heard from (epoch ms; None on an
    item written before heartbeats were recorded) and when it connected."""

    connection_id: str
    last_seen_ms: int | None
    connected_at: datetime | None


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def silence_cutoff(now: datetime) -> datetime:
    """A connection last heard from before this instant is silent."""
    return now - timedelta(seconds=SILENCE_LIMIT_S)


def is_silent(conn: SeenConnection, now: datetime) -> bool:
    """Silent for more than ``SILENCE_LIMIT_S``. An item without ``last_seen`` (written before heartbeats were
    recorded; its client's next ping records one) counts as silent only once it is older than API Gateway's
    maximum connection duration: such a socket cannot be open any more."""
    if conn.last_seen_ms is not None:
        return conn.last_seen_ms < epoch_ms(silence_cutoff(now))
    if conn.connected_at is None:
        return True
    return conn.connected_at < now - timedelta(seconds=APIGW_MAX_CONNECTION_S)


ACTIONS = ("subscribe", "ping")
"""The actions a client may send (the WebSocket API's route keys besides ``$connect``/``$disconnect``/``$default``;
a contract test holds them equal to template.yaml's)."""


class ErrorReply(BaseModel):
    """The reply to a message the server refuses (the connection stays open); sent without ``details`` when there
    are none (``model_dump(exclude_none=True)``)."""

    type: Literal["error"] = "error"
    code: str
    message: str
    details: Any = None


def subscribed_message(filters: OfferFilters, seq: int) -> Subscribed:
    return Subscribed(filters=json.loads(canonical_json(filters)), seq=seq)


def error_message(code: str, message: str, details: Any = None) -> ErrorReply:
    return ErrorReply(code=code, message=message, details=details)


class DeliveryChunk(BaseModel):
    """What one fan-out worker posts (one SQS message): the distinct messages of a broadcast (JSON strings) and,
    per connection, the indices of its messages in order; ``at`` is when they were numbered."""

    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    messages: list[str]
    to: list[tuple[str, list[int]]]
