"""Every request the client makes, built once: the sync and async clients send the same ``Call`` objects.

Answers are the generated models (``gpubroker_client.models``, from the API's OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict, TypeVar
from urllib.parse import quote

from pydantic import TypeAdapter

from gpubroker_client import models as m
from gpubroker_client._core import Call

T = TypeVar("T")

Sort = Literal[
    "price",
    "-price",
    "price_per_gpu_hour",
    "-price_per_gpu_hour",
    "gpu_memory",
    "-gpu_memory",
    "spot_price",
    "-spot_price",
]


class OfferQuery(TypedDict, total=False):
    """``GET /offers``' filters, each as the API names it (a contract test keeps the two equal)."""

    gpu: list[str]
    provider: list[str]
    region: list[str]
    compliance: list[str]
    gpu_vendor: list[str]
    min_gpu_memory_gb: float
    max_gpu_memory_gb: float
    min_total_gpu_memory_gb: float
    max_total_gpu_memory_gb: float
    min_gpu_count: int
    max_gpu_count: int
    min_vcpus: float
    max_vcpus: float
    min_ram_gb: float
    max_ram_gb: float
    min_price_per_hour: float
    max_price_per_hour: float
    min_price_per_gpu_hour: float
    max_price_per_gpu_hour: float
    spot: bool
    min_spot_price_per_hour: float
    max_spot_price_per_hour: float
    available: bool
    q: str


LoginAnswer = m.Tokens | m.MfaRequired
MfaAnswer = m.Tokens | m.MfaEnabled


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(tp: Any) -> TypeAdapter[Any]:
    if tp not in _ADAPTERS:
        _ADAPTERS[tp] = TypeAdapter(tp)
    return _ADAPTERS[tp]


def call(method: str, path: str, answer: type[T], **kwargs: Any) -> Call[T]:
    """One request; its answer's TypeAdapter is built once per type."""
    adapter: TypeAdapter[T] = _adapter(answer)
    return Call(method, path, adapter, **kwargs)


def seg(value: str) -> str:
    """One path segment, percent-encoded (a GPU spelling may hold spaces or slashes)."""
    return quote(value, safe="")


def offers(
    filters: OfferQuery, *, sort: Sort | None = None, limit: int | None = None, cursor: str | None = None
) -> Call[m.OfferPage]:
    return call("GET", "/offers", m.OfferPage, params={**filters, "sort": sort, "limit": limit, "cursor": cursor})


def offer(offer_id: str) -> Call[m.OfferOut]:
    return call("GET", f"/offers/{seg(offer_id)}", m.OfferOut)


def gpus() -> Call[m.GpuList]:
    return call("GET", "/gpus", m.GpuList)


def gpu(model: str) -> Call[m.GpuSpec]:
    return call("GET", f"/gpus/{seg(model)}", m.GpuSpec)


def providers() -> Call[m.ProviderList]:
    return call("GET", "/providers", m.ProviderList)


def market_summary() -> Call[m.MarketSummary]:
    return call("GET", "/market/summary", m.MarketSummary)


def readiness() -> Call[m.Readiness]:
    return call("GET", "/health/ready", m.Readiness)


def presets() -> Call[m.PresetList]:
    return call("GET", "/presets", m.PresetList)


def preset(name: str, *, limit: int | None = None, personal: bool = False) -> Call[m.PresetOut]:
    """``/presets/{name}``, or with ``personal`` the signed-in caller's ``/me/presets/{name}``."""
    prefix = "/me/presets" if personal else "/presets"
    return call("GET", f"{prefix}/{seg(name)}", m.PresetOut, params={"limit": limit}, auth=personal)


def parse_workload(text: str) -> Call[m.ParseAnswer]:
    return call("POST", "/ai/parse-workload", m.ParseAnswer, body={"text": text})


def map_workload(workload: dict[str, Any], *, top: int | None = None) -> Call[m.WorkloadMapping]:
    return call("POST", "/math/map-workload-to-gpu", m.WorkloadMapping, body=workload, params={"top": top})


def login(email: str, password: str) -> Call[LoginAnswer]:
    return call("POST", "/auth/login", LoginAnswer, body={"email": email, "password": password})  # type: ignore[arg-type]


def verify_mfa(challenge: str, code: str) -> Call[MfaAnswer]:
    return call("POST", "/auth/mfa/verify", MfaAnswer, body={"challenge": challenge, "code": code})  # type: ignore[arg-type]


def refresh(refresh_token: str, cookie: str) -> Call[m.Tokens]:
    return call("POST", "/auth/refresh", m.Tokens, body={"refresh_token": refresh_token}, headers={"Cookie": cookie})


def logout(refresh_token: str, cookie: str) -> Call[m.LoggedOut]:
    """Revoke the session (every refresh token of its family): the refresh token and its fingerprint cookie."""
    return call("POST", "/auth/logout", m.LoggedOut, body={"refresh_token": refresh_token}, headers={"Cookie": cookie})


def create_booking(
    offer_id: str,
    hours: int,
    *,
    idempotency_key: str,
    gpu_count: int | None = None,
    max_price_per_hour_cents: int | None = None,
) -> Call[m.BookingAccepted]:
    body: dict[str, Any] = {"offer_id": offer_id, "hours": hours}
    if gpu_count is not None:
        body["gpu_count"] = gpu_count
    if max_price_per_hour_cents is not None:
        body["max_price_per_hour"] = {"amount": max_price_per_hour_cents, "currency": "usd"}
    return call(
        "POST", "/bookings", m.BookingAccepted, body=body, headers={"Idempotency-Key": idempotency_key}, auth=True
    )


def bookings(*, limit: int | None = None, cursor: str | None = None) -> Call[m.BookingPage]:
    return call("GET", "/bookings", m.BookingPage, params={"limit": limit, "cursor": cursor}, auth=True)


def booking(booking_id: str) -> Call[m.BookingView]:
    return call("GET", f"/bookings/{seg(booking_id)}", m.BookingView, auth=True)


def cancel_booking(booking_id: str) -> Call[m.BookingView]:
    return call("POST", f"/bookings/{seg(booking_id)}/cancel", m.BookingView, auth=True)
