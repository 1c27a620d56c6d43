"""The one normalised offer model, and the pure rules that turn a raw catalog row into it.

Storage (see docs/decisions.md, "Table keys"):
- offers table: PK ``offer_id``; GSI ``by_provider`` (PK ``provider``, SK ``offer_id``) for a provider's run diff;
  stream NEW_AND_OLD_IMAGES for live prices.
- price history table: PK ``offer_id``, SK ``ts``; GSI ``by_gpu`` (PK ``gpu_model``, SK ``ts``) for market trends.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from gpubroker.domain.gpus import (
    MEMORY_TOLERANCE,
    GpuSpec,
    UnknownGpu,
    board_unstated_model,
    canonical_gpu,
    descriptive_name,
)
from gpubroker.domain.providers import COMPLIANCE_TAGS, ProviderName, in_eea
from gpubroker.domain.types import OfferId

# Plausible ranges (USD per hour for a whole instance; GB per GPU). Outside them a row is rejected, not stored.
MIN_PRICE_PER_HOUR = 0.001
MAX_PRICE_PER_HOUR = 2_000.0
MAX_GPU_COUNT = 64
MAX_GPU_MEMORY_GB = 512.0


class Offer(BaseModel):
    """One rentable GPU instance at one provider in one region. Prices in USD; memory in GB."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    offer_id: OfferId
    provider: ProviderName  # built-in or catalog-only (registered by the run that ingests it)
    instance_type: str = Field(min_length=1, max_length=128)
    gpu_model: str
    gpu_vendor: str
    gpu_memory_gb: float = Field(gt=0, le=MAX_GPU_MEMORY_GB, description="per GPU, GB")
    gpu_count: int = Field(ge=1, le=MAX_GPU_COUNT)
    form_factor: str | None = None
    vcpus: float | None = Field(default=None, gt=0)
    ram_gb: float | None = Field(default=None, gt=0, description="host RAM, GB")
    region: str = Field(min_length=1, max_length=128)
    price_per_hour: float = Field(ge=MIN_PRICE_PER_HOUR, le=MAX_PRICE_PER_HOUR, description="USD/h, whole instance")
    price_per_gpu_hour: float = Field(gt=0, le=MAX_PRICE_PER_HOUR, description="USD per GPU-hour")
    spot_price_per_hour: float | None = Field(default=None, ge=MIN_PRICE_PER_HOUR, le=MAX_PRICE_PER_HOUR)
    available: bool = True
    compliance: tuple[str, ...] = ()
    as_of: AwareDatetime
    stale: bool = False
    source: str = "skypilot"

    @field_validator("compliance")
    @classmethod
    def _known_tags(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(v) - set(COMPLIANCE_TAGS)
        if unknown:
            raise ValueError(f"unknown compliance tags {sorted(unknown)}")
        return tuple(sorted(set(v)))

    def content_hash(self) -> str:
        """Hash of what the provider says (not of when we looked): equal hashes mean nothing to write."""
        body = self.model_dump(mode="json", exclude={"as_of", "stale", "available"})
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]


@lru_cache(maxsize=65536)
def offer_id_for(provider: str, instance_type: str, region: str) -> str:
    """Stable id: the same instance type in the same region at the same provider is the same offer forever."""
    digest = hashlib.sha256(f"{provider}\x1f{instance_type}\x1f{region}".encode()).hexdigest()[:16]
    return f"{provider}-{digest}"


class RejectedRow(Exception):
    """A raw row that cannot be normalised; ``reason`` is the run report's counter key."""

    def __init__(self, reason: str, raw_gpu: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw_gpu = raw_gpu


Reason = Literal[
    "no_gpu",
    "unknown_gpu",
    "ambiguous_gpu_variant",
    "not_a_gpu",
    "missing_price",
    "implausible_price",
    "implausible_memory",
    "invalid_gpu_count",
    "malformed_row",
    "duplicate",
]


class RawOffer(BaseModel):
    """A provider row after its source adapter has undone the source's quirks, before canonicalisation.

    ``gpu_memory_gb`` is per GPU as the source reports it (``None`` when it does not); the adapter is where
    unit quirks are corrected, this model is where everything else is checked. ``gpu_vendor``,
    ``gpu_memory_type`` and ``gpu_form_factor`` (``SXM4``, ``PCIe``) are further facts of the GPU when the source
    states them: they tell the variants of a family apart (``canonical_gpu``).
    """

    model_config = ConfigDict(frozen=True)

    provider: str
    instance_type: str
    region: str
    gpu_name: str | None
    gpu_count: float | None
    gpu_memory_gb: float | None = None
    gpu_vendor: str | None = None
    gpu_memory_type: str | None = None
    gpu_form_factor: str | None = None
    vcpus: float | None = None
    ram_gb: float | None = None
    price_per_hour: float | None = None
    spot_price_per_hour: float | None = None
    compliance: tuple[str, ...] = ()
    source: str = "skypilot"


@lru_cache(maxsize=1024)
def _form_factor(spec_form_factor: str) -> str | None:
    """SXM or PCIe as the model's spec says. Each canonical model is one form factor (the PCIe A100s and V100s have
    their own ids), and the resolver has checked the instance name against it (``canonical_gpu``); a board-unstated
    model (form factor "unstated") has none: None."""
    if spec_form_factor == "unstated":
        return None
    for family in ("SXM", "PCIe"):
        if family.lower() in spec_form_factor.lower():
            return family
    return spec_form_factor


@lru_cache(maxsize=65536)
def derive_compliance(provider: str, instance_type: str, region: str) -> tuple[str, ...]:
    tags: set[str] = set()
    if in_eea(region):
        tags.add("eu-data-residency")
    it = instance_type.upper()
    if it.endswith("_SECURE"):
        tags.add("secure-cloud")
    if it.endswith("_COMMUNITY") or provider == "vast":  # any catalog-only cloud is known by name alone
        tags.add("community-cloud")
    if it.lower().endswith("-bm"):
        tags.add("dedicated-host")
    return tuple(sorted(tags))


def _memory(raw: RawOffer, spec: GpuSpec) -> float:
    """The spec's per-GPU memory. A reported figure is a measurement of it (ECC reserves 1/16, GiB vs GB is 7 %):
    the resolver has already refused a figure more than 10 % off (``canonical_gpu``); this re-checks it, so a
    doubled or halved figure can never pass under a wide plausibility window."""
    reported = raw.gpu_memory_gb
    if reported is not None and abs(reported - spec.memory_gb) > MEMORY_TOLERANCE * spec.memory_gb:
        raise RejectedRow("implausible_memory")
    return spec.memory_gb


def gpu_model_of(raw: RawOffer) -> str:
    """The canonical GPU of a raw row, from its name and every fact it carries. A row whose facts leave the board
    unstated (an "H100" at 80 GB: SXM or PCIe) is the board-unstated model of those boards (``H100-80GB-Any``),
    reported apart (``RunReport.variant_unstated``), never one of them guessed; a row whose facts contradict each
    other (an "A100 PCIe" on an SXM4 instance) stays ambiguous. Raises :class:`RejectedRow` (``no_gpu``,
    ``unknown_gpu``, ``ambiguous_gpu_variant``, ``not_a_gpu``) with the raw spelling."""
    if not raw.gpu_name:
        raise RejectedRow("no_gpu")
    try:
        return canonical_gpu(
            raw.gpu_name,
            provider=raw.provider,
            instance_type=raw.instance_type,
            memory_gb=raw.gpu_memory_gb,
            memory_type=raw.gpu_memory_type,
            vendor=raw.gpu_vendor,
            form_factor=raw.gpu_form_factor,
        )
    except UnknownGpu as exc:
        unstated = board_unstated_model(exc.candidates) if not exc.conflicting else None
        if exc.reason == "ambiguous_gpu_variant" and unstated is not None:
            return unstated
        raise RejectedRow(exc.reason, raw_gpu=raw.gpu_name) from exc


def normalise(raw: RawOffer, *, as_of: datetime, specs: Mapping[str, GpuSpec]) -> Offer:
    """Canonicalise one raw offer. Raises :class:`RejectedRow` with a reason; never guesses a GPU."""
    if not raw.gpu_name:
        raise RejectedRow("no_gpu")
    if raw.gpu_count is None or raw.gpu_count != int(raw.gpu_count) or not 1 <= raw.gpu_count <= MAX_GPU_COUNT:
        raise RejectedRow("invalid_gpu_count")
    model = gpu_model_of(raw)
    spec = specs.get(model)
    if spec is None:
        raise RejectedRow("unknown_gpu", raw_gpu=raw.gpu_name)
    if raw.price_per_hour is None:
        raise RejectedRow("missing_price")
    if not MIN_PRICE_PER_HOUR <= raw.price_per_hour <= MAX_PRICE_PER_HOUR:
        raise RejectedRow("implausible_price")
    count = int(raw.gpu_count)
    spot = raw.spot_price_per_hour if raw.spot_price_per_hour and raw.spot_price_per_hour > 0 else None
    if spot is not None and not MIN_PRICE_PER_HOUR <= spot <= MAX_PRICE_PER_HOUR:
        raise RejectedRow("implausible_price")
    compliance = set(raw.compliance) | set(derive_compliance(raw.provider, raw.instance_type, raw.region))
    try:
        return _build_offer(
            raw,
            model=model,
            spec=spec,
            price=raw.price_per_hour,
            count=count,
            spot=spot,
            compliance=compliance,
            as_of=as_of,
        )
    except ValidationError as exc:  # any field out of the model's bounds: counted, never a crashed run
        raise RejectedRow("malformed_row") from exc


def _build_offer(
    raw: RawOffer,
    *,
    model: str,
    spec: GpuSpec,
    price: float,
    count: int,
    spot: float | None,
    compliance: set[str],
    as_of: datetime,
) -> Offer:
    return Offer(
        offer_id=offer_id_for(raw.provider, raw.instance_type, raw.region),
        provider=raw.provider,
        instance_type=raw.instance_type,
        gpu_model=model,
        gpu_vendor=spec.vendor,
        gpu_memory_gb=_memory(raw, spec),
        gpu_count=count,
        form_factor=_form_factor(spec.form_factor),
        vcpus=raw.vcpus if raw.vcpus and raw.vcpus > 0 else None,
        ram_gb=raw.ram_gb if raw.ram_gb and raw.ram_gb > 0 else None,
        region=raw.region,
        price_per_hour=price,
        price_per_gpu_hour=price / count,
        spot_price_per_hour=spot,
        compliance=tuple(sorted(compliance)),
        as_of=as_of.astimezone(UTC),
        source=raw.source,
    )


def to_raw(offer: Offer) -> RawOffer:
    """The raw row an offer came from, in canonical spelling: ``normalise(to_raw(o)) == o`` (idempotence).

    The GPU is named with every fact that tells it from its family's other variants (``descriptive_name``), so it
    resolves back to the same model whatever the provider and instance type."""
    return RawOffer(
        provider=offer.provider,
        instance_type=offer.instance_type,
        region=offer.region,
        gpu_name=descriptive_name(offer.gpu_model),
        gpu_count=float(offer.gpu_count),
        gpu_memory_gb=offer.gpu_memory_gb,
        vcpus=offer.vcpus,
        ram_gb=offer.ram_gb,
        price_per_hour=offer.price_per_hour,
        spot_price_per_hour=offer.spot_price_per_hour,
        compliance=offer.compliance,
        source=offer.source,
    )


class RunReport(BaseModel):
    """What one ingestion run did. The first five fields are the public report (``make ingest`` prints it)."""

    provider: str
    accepted: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)
    unknown_gpus: list[str] = Field(default_factory=list)
    variant_unstated: dict[str, int] = Field(
        default_factory=dict, description="accepted offers per board-unstated model (H100-80GB-Any): reported"
    )
    status: Literal["ok", "failed", "skipped"] = "ok"
    error: str | None = None
    skipped: Literal["breaker_open"] | None = Field(
        default=None, description="why the run made no call: its provider's circuit breaker was open"
    )
    stale_offers: int = 0
    written: int = 0
    unchanged: int = 0
    marked_unavailable: int = 0
    history_points: int = 0
    snapshot_version: str | None = None

    def board_unstated(self, model: str) -> None:
        """An accepted offer whose provider does not state its board (a board-unstated model)."""
        self.variant_unstated[model] = self.variant_unstated.get(model, 0) + 1

    def reject(self, reason: str, raw_gpu: str | None = None) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        if raw_gpu and reason in {"unknown_gpu", "ambiguous_gpu_variant"} and raw_gpu not in self.unknown_gpus:
            self.unknown_gpus.append(raw_gpu)
