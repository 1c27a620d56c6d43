"""The offer search: the request (filters, sort, pagination, as one validated model) and its answer, a page of
offers (``OfferPage``, also the body of ``GET /offers``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from gpubroker.domain.errors import InvalidCursor

SortKey = Literal["price", "-price", "price_per_gpu_hour", "-price_per_gpu_hour", "gpu_memory", "-gpu_memory"]
MAX_PRICE = 10_000.0
MAX_LIMIT = 100


class OfferQuery(BaseModel):
    """Every filter is optional; all given filters must hold (AND). List filters match any of their values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gpu: tuple[str, ...] = ()
    provider: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    compliance: tuple[str, ...] = ()
    min_gpu_memory_gb: float | None = Field(default=None, ge=0, le=1024)
    min_price_per_hour: float | None = Field(default=None, ge=0, le=MAX_PRICE)
    max_price_per_hour: float | None = Field(default=None, ge=0, le=MAX_PRICE)
    min_price_per_gpu_hour: float | None = Field(default=None, ge=0, le=MAX_PRICE)
    max_price_per_gpu_hour: float | None = Field(default=None, ge=0, le=MAX_PRICE)
    available: bool | None = None
    q: str | None = Field(default=None, max_length=200)
    sort: SortKey = "price_per_gpu_hour"
    limit: int = Field(default=20, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, max_length=512)

    @model_validator(mode="after")
    def _ranges(self) -> OfferQuery:
        for lo, hi in (
            ("min_price_per_hour", "max_price_per_hour"),
            ("min_price_per_gpu_hour", "max_price_per_gpu_hour"),
        ):
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{lo} must not exceed {hi}")
        return self

    @property
    def tokens(self) -> list[str]:
        return [t for t in (self.q or "").split() if t]

    def filter_hash(self) -> str:
        """Identifies the result set a cursor belongs to (filters and sort, not the page size)."""
        body = self.model_dump(mode="json", exclude={"cursor", "limit"})
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


class Cursor(BaseModel):
    """Opaque to clients: the snapshot the walk is pinned to, and the sort rank of the last offer returned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: str = Field(min_length=1, max_length=128)
    r: int = Field(ge=0)
    h: str = Field(min_length=16, max_length=16)

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
