"""The offer search: the request (``OfferFilters``, the filter part shared with live subscriptions, and
``OfferQuery`` = filters + words + sort + page) and its answer, a page of offers (``OfferPage``, also the body of
``GET /offers``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from gpubroker.domain.errors import InvalidCursor
from gpubroker.domain.types import SNAPSHOT_VERSION_PATTERN

SortKey = Literal[
    "price",
    "-price",
    "price_per_gpu_hour",
    "-price_per_gpu_hour",
    "gpu_memory",
    "-gpu_memory",
    "spot_price",
    "-spot_price",
]
MAX_PRICE = 10_000.0
MAX_LIMIT = 100
MAX_CURSOR_RANK = 2**31 - 1  # a cursor's rank is an offer's position in its snapshot (well under 2**31)
MAX_GPU_MEMORY_GB = 1024.0
MAX_TOTAL_GPU_MEMORY_GB = 65_536.0
MAX_GPU_COUNT = 1024
MAX_VCPUS = 16_384.0
MAX_RAM_GB = 262_144.0

# (lower bound, upper bound) pairs checked together: min > max is a 422 whose detail type is ``min_exceeds_max``
RANGES: tuple[tuple[str, str], ...] = (
    ("min_gpu_memory_gb", "max_gpu_memory_gb"),
    ("min_total_gpu_memory_gb", "max_total_gpu_memory_gb"),
    ("min_gpu_count", "max_gpu_count"),
    ("min_vcpus", "max_vcpus"),
    ("min_ram_gb", "max_ram_gb"),
    ("min_price_per_hour", "max_price_per_hour"),
    ("min_price_per_gpu_hour", "max_price_per_gpu_hour"),
    ("min_spot_price_per_hour", "max_spot_price_per_hour"),
)


class OfferFilters(BaseModel):
    """Which offers: every filter is optional and all given filters must hold (AND); a list filter matches any of
    its values (OR). Shared by ``GET /offers`` (``OfferQuery``) and the live-price subscriptions.

    Numeric bounds are inclusive; an offer whose value is unknown (no vCPU count, no RAM figure, no spot price)
    never satisfies a bound on it. ``available`` defaults to true: offers that vanished from their provider
    (``available: false``, kept for history) are listed only when asked for with ``available=false``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    gpu: tuple[str, ...] = ()
    provider: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    compliance: tuple[str, ...] = ()
    gpu_vendor: tuple[str, ...] = Field(default=(), description="nvidia, amd, intel (case-insensitive); repeatable")
    min_gpu_memory_gb: float | None = Field(default=None, ge=0, le=MAX_GPU_MEMORY_GB, description="per GPU, GB")
    max_gpu_memory_gb: float | None = Field(default=None, ge=0, le=MAX_GPU_MEMORY_GB, description="per GPU, GB")
    min_total_gpu_memory_gb: float | None = Field(
        default=None, ge=0, le=MAX_TOTAL_GPU_MEMORY_GB, description="all GPUs of the offer: per-GPU memory x count"
    )
    max_total_gpu_memory_gb: float | None = Field(
        default=None, ge=0, le=MAX_TOTAL_GPU_MEMORY_GB, description="all GPUs of the offer: per-GPU memory x count"
    )
    min_gpu_count: int | None = Field(default=None, ge=1, le=MAX_GPU_COUNT, description="GPUs in the instance")
    max_gpu_count: int | None = Field(default=None, ge=1, le=MAX_GPU_COUNT, description="GPUs in the instance")
    min_vcpus: float | None = Field(default=None, ge=0, le=MAX_VCPUS, description="offers with no vCPU figure fail it")
    max_vcpus: float | None = Field(default=None, ge=0, le=MAX_VCPUS, description="offers with no vCPU figure fail it")
    min_ram_gb: float | None = Field(
        default=None, ge=0, le=MAX_RAM_GB, description="host RAM, GB; offers with no RAM figure fail it"
    )
    max_ram_gb: float | None = Field(
        default=None, ge=0, le=MAX_RAM_GB, description="host RAM, GB; offers with no RAM figure fail it"
    )
    min_price_per_hour: float | None = Field(default=None, ge=0, le=MAX_PRICE, description="USD, whole instance")
    max_price_per_hour: float | None = Field(default=None, ge=0, le=MAX_PRICE, description="USD, whole instance")
    min_price_per_gpu_hour: float | None = Field(default=None, ge=0, le=MAX_PRICE, description="USD per GPU-hour")
    max_price_per_gpu_hour: float | None = Field(default=None, ge=0, le=MAX_PRICE, description="USD per GPU-hour")
    spot: bool = Field(
        default=False,
        description="true: only offers with a spot (interruptible) price; false (default): no condition on it",
    )
    min_spot_price_per_hour: float | None = Field(
        default=None, ge=0, le=MAX_PRICE, description="USD, whole instance; offers without a spot price fail it"
    )
    max_spot_price_per_hour: float | None = Field(
        default=None, ge=0, le=MAX_PRICE, description="USD, whole instance; offers without a spot price fail it"
    )
    available: bool = Field(
        default=True,
        description="true (default): live offers only; false: only offers that vanished from their provider "
        "(kept for their history)",
    )

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        for lo, hi in RANGES:
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and a > b:
                raise PydanticCustomError(
                    "min_exceeds_max", "{lo} must not exceed {hi}", {"lo": lo, "hi": hi, "min": a, "max": b}
                )
        return self

    def filters(self) -> OfferFilters:
        """Only the filter part (what a subscription stores), whatever subclass this is."""
        return OfferFilters.model_validate(self.model_dump(include=set(OfferFilters.model_fields)))


class OfferQuery(OfferFilters):
    """A search: the filters, words to look for (``q``), the order and the page."""

    q: str | None = Field(default=None, max_length=200)
    sort: SortKey = "price_per_gpu_hour"
    limit: int = Field(default=20, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, max_length=512)

    def filter_hash(self) -> str:
        """Identifies the result set a cursor belongs to (filters, words and sort; not the page size)."""
        body = self.model_dump(mode="json", exclude={"cursor", "limit"})
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


class Cursor(BaseModel):
    """Opaque to clients: the snapshot the walk is pinned to, and the sort rank of the last offer returned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: str = Field(pattern=SNAPSHOT_VERSION_PATTERN)
    r: int = Field(ge=0, le=MAX_CURSOR_RANK)
    h: str = Field(pattern=r"^[0-9a-f]{16}$")

    def encode(self) -> str:
        raw = json.dumps(self.model_dump(), separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            return cls.model_validate_json(raw)
        except (binascii.Error, ValueError) as exc:
            raise InvalidCursor("cursor is malformed; start again without it") from exc


# What a search returns, and GET /offers answers (the class names are the OpenAPI schema names).
MatchField = Literal[
    "gpu_model",
    "gpu_family",
    "gpu_memory",
    "gpu_count",
    "gpu_vendor",
    "form_factor",
    "provider",
    "region",
    "region_group",
    "instance_type",
]


class OfferMatch(BaseModel):
    """Why an offer matched the words of ``q``: the fields that held them and the relevance score it ranked by."""

    fields: list[MatchField] = Field(
        description="fields holding the query's terms: gpu_model (the offer's GPU is one the query's GPU phrase "
        "names: h100, rtx 6000 ada), gpu_family (a word of the GPU's id or architecture: h100 in H100-NVL, hopper), "
        "gpu_memory (24gb: per-GPU memory rounds to it), gpu_count (8x), gpu_vendor, form_factor (sxm, pcie), "
        "provider (name or display name), region (a word of the region string), region_group (eu, europe, us, "
        "asia... or the region's country code), instance_type"
    )
    score: float = Field(
        ge=0,
        description="relevance: the sum over the query's terms of the best weight each earned (gpu_model 100; "
        "gpu_family 60; gpu_memory, gpu_count, gpu_vendor, form_factor, provider 30; region, region_group 20; "
        "instance_type 10; half for a word that only starts a token); results are ordered by score, highest "
        "first, ties in the requested sort order",
    )


class OfferOut(BaseModel):
    offer_id: str
    provider: str
    instance_type: str
    gpu_model: str
    gpu_vendor: str
    gpu_memory_gb: float = Field(description="per GPU, GB")
    gpu_count: int
    form_factor: str | None
    vcpus: float | None
    ram_gb: float | None = Field(description="host RAM, GB")
    region: str
    price_per_hour: float = Field(description="USD per hour, whole instance")
    price_per_gpu_hour: float = Field(description="USD per GPU-hour")
    spot_price_per_hour: float | None
    available: bool
    compliance: list[str]
    as_of: AwareDatetime
    stale: bool
    source: str
    match: OfferMatch | None = Field(
        default=None,
        description="why the offer matched the words of `q`; null when the search has no `q` (or only filler words "
        "such as 'gpu', 'in')",
    )


class Interpretation(BaseModel):
    """How the request's words were read, for every value that is not already what it matched."""

    gpu: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "each `gpu` value as given -> the canonical models it matched, for values that are not one canonical "
            'id: `{"H100": ["H100-NVL", "H100-PCIe", "H100-SXM"], "a6000": ["RTX-A6000"]}`'
        ),
    )


class OfferPage(BaseModel):
    items: list[OfferOut]
    count: int = Field(description="offers matching the filters in this snapshot")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")
    snapshot_version: str
    stale: bool = Field(description="true when any returned offer comes from a provider whose last run failed")
    interpreted: Interpretation = Field(
        default_factory=Interpretation, description="how spellings in the request were read (GPU families, aliases)"
    )
