"""Live prices over WebSocket: subscription filters, the pure matching rule and the messages on the wire.

Storage (ConnectionsTable in template.yaml; adapters/connections.py):

- PK ``connection_id`` (S). One item per open connection: ``connected_at``, ``token`` (stored, not yet checked),
  ``filters`` (a map, absent until the client subscribes), ``sub_key`` and ``ttl`` (epoch seconds; DynamoDB's TTL
  removes connections whose ``$disconnect`` never arrived, 2 hours after the last subscribe, the API Gateway
  maximum connection duration).
- GSI ``by_subscription``: PK ``sub_key`` (S), SK ``connection_id``, projection ALL. Sparse: only subscribed
  connections carry ``sub_key``. ``sub_key`` is the subscription's most selective indexed dimension:
  ``gpu#<gpu_model>`` when it names a GPU model, else ``provider#<provider>``, else ``all``.

Broadcaster access pattern: for one batch of offer changes, Query ``by_subscription`` once per distinct key the
batch touches (``gpu#`` each GPU model, ``provider#`` each provider, and ``all``), then apply the rest of each
filter (region, price ceiling, the other dimension) with :func:`matches`. No Scan: the read is proportional to
the connections that can match, and a batch of 100 changes costs a handful of Queries. ``all`` is one partition
(an index partition takes ~1000 writes/s); if unfiltered subscribers ever outgrow it, shard it ``all#0..n``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from gpubroker.domain.providers import known_provider

CONNECTION_TTL_SECONDS = 2 * 60 * 60
ALL_KEY = "all"


class SubscriptionFilters(BaseModel):
    """What a client wants to hear about; every given field must match (an empty filter matches every offer)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gpu_model: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][\w.+-]*$")
    provider: str | None = None
    region: str | None = Field(default=None, min_length=1, max_length=128)
    max_price_per_gpu_hour: float | None = Field(default=None, gt=0, le=2_000, description="USD per GPU-hour")

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, v: str | None, info: ValidationInfo) -> str | None:
        # registry-aware when validated with ``context={"providers": provider_names(manifest)}``, else its shape
        return None if v is None else known_provider(v, (info.context or {}).get("providers"))


class SubscribeMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Literal["subscribe"]
    filters: SubscriptionFilters = SubscriptionFilters()


class PriceChange(BaseModel):
    """One offer's price moved (or the offer appeared). Prices in USD per GPU-hour; ``ts`` = the write time."""

    model_config = ConfigDict(frozen=True)

    offer_id: str
    provider: str
    gpu_model: str
    region: str
    old_price: float | None
    new_price: float
    ts: datetime


def sub_key(filters: SubscriptionFilters) -> str:
    """The index partition a subscription is stored under (see the module docstring)."""
    if filters.gpu_model is not None:
        return f"gpu#{filters.gpu_model}"
    if filters.provider is not None:
        return f"provider#{filters.provider}"
    return ALL_KEY


def candidate_keys(change: PriceChange) -> set[str]:
    """Every partition a subscription that matches ``change`` can be stored under."""
    return {f"gpu#{change.gpu_model}", f"provider#{change.provider}", ALL_KEY}


def matches(filters: SubscriptionFilters, change: PriceChange) -> bool:
    return (
        (filters.gpu_model is None or filters.gpu_model == change.gpu_model)
        and (filters.provider is None or filters.provider == change.provider)
        and (filters.region is None or filters.region == change.region)
        and (filters.max_price_per_gpu_hour is None or change.new_price <= filters.max_price_per_gpu_hour)
    )


def _price(image: Mapping[str, Any] | None) -> float | None:
    if not image or not image.get("available", True):
        return None
    value = image.get("price_per_gpu_hour")
    return None if value is None else float(value)


def price_change(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, ts: datetime) -> PriceChange | None:
    """The change an offer write makes visible to subscribers, or None.

    A message goes out when the offer appeared (new, or available again) or its price per GPU-hour changed.
    A removal, an offer going unavailable, or a write that leaves the price alone says nothing.
    """
    new_price = _price(new)
    if new is None or new_price is None:
        return None
    old_price = _price(old)
    if old_price is not None and old_price == new_price:
        return None
    return PriceChange(
        offer_id=str(new["offer_id"]),
        provider=str(new["provider"]),
        gpu_model=str(new["gpu_model"]),
        region=str(new["region"]),
        old_price=old_price,
        new_price=new_price,
        ts=ts,
    )


def iso(ts: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix: the ``ts`` of every server message."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def price_message(change: PriceChange) -> dict[str, Any]:
    return {
        "type": "price",
        "offer_id": change.offer_id,
        "old_price": change.old_price,
        "new_price": change.new_price,
        "ts": iso(change.ts),
    }


class Pong(BaseModel):
    """The reply to a client's ``ping``: the server time."""

    type: Literal["pong"] = "pong"
    ts: str


def pong_message(now: datetime) -> Pong:
    return Pong(ts=iso(now))


class Subscribed(BaseModel):
    """The reply to a valid ``subscribe``: the filters now in force (unset ones left out)."""

    type: Literal["subscribed"] = "subscribed"
    filters: dict[str, Any]


class ErrorReply(BaseModel):
    """The reply to a message the server refuses (the connection stays open); sent without ``details`` when there
    are none (``model_dump(exclude_none=True)``)."""

    type: Literal["error"] = "error"
    code: str
    message: str
    details: Any = None


def subscribed_message(filters: SubscriptionFilters) -> Subscribed:
    return Subscribed(filters=filters.model_dump(exclude_none=True))


def error_message(code: str, message: str, details: Any = None) -> ErrorReply:
    return ErrorReply(code=code, message=message, details=details)
