"""The offer filters' meaning, without NumPy: normalising a request's filters and testing one offer against them.

``normalise_filters`` turns what a user typed into canonical values (GPU spellings -> catalog ids, lower-case
providers, vendors and regions) and refuses unknown values with a 422. ``offer_matches`` is the per-offer
predicate: the columnar search (``services.search.filter_mask``) is property-tested to select exactly the offers
it accepts, so live-price subscriptions (which run in functions without NumPy) can filter one changed offer with
the same rules ``GET /offers`` applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from gpubroker.domain.errors import ValidationFailed
from gpubroker.domain.gpus import UnknownGpu, bundled_catalog, canonical_gpu
from gpubroker.domain.providers import COMPLIANCE_TAGS, PROVIDERS
from gpubroker.domain.regions import region_predicate
from gpubroker.domain.search import OfferFilters

F = TypeVar("F", bound=OfferFilters)

# Vendors a search accepts (case-insensitive): every vendor in the GPU catalog, and the ones users ask for before
# the catalog rents any of their parts (an empty page, not a 422, for "intel").
KNOWN_VENDORS = frozenset({"nvidia", "amd", "intel"})


def resolve_gpu_filter(names: tuple[str, ...]) -> list[str]:
    """Accept any spelling a user types (``A6000``, ``h100 sxm``); unknown names are a 422, not an empty page."""
    known = bundled_catalog().by_model()
    out: list[str] = []
    for name in names:
        if name in known:
            out.append(name)
            continue
        try:
            out.append(canonical_gpu(name))
        except UnknownGpu:
            matches = [m for m in known if m.casefold() == name.casefold()]
            if not matches:
                raise ValidationFailed(
                    f"unknown GPU model {name!r}", details={"parameter": "gpu", "known": sorted(known)}
                ) from None
            out.extend(matches)
    return out


def known_vendors() -> frozenset[str]:
    return KNOWN_VENDORS | {g.vendor.casefold() for g in bundled_catalog().gpus}


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    """Lists come as repeated parameters (OpenAPI ``form``, ``explode: true``); blanks are ignored."""
    return tuple(v.strip() for v in values if v.strip())


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def normalise_filters(filters: F) -> F:
    """Canonical, sorted, de-duplicated values (so equal filters hash equal); unknown values are a 422."""
    gpus = tuple(resolve_gpu_filter(_split(filters.gpu)))
    providers = tuple(p.casefold() for p in _split(filters.provider))
    unknown = [p for p in providers if p not in PROVIDERS]
    if unknown:
        raise ValidationFailed(
            f"unknown provider {unknown[0]!r}", details={"parameter": "provider", "known": sorted(PROVIDERS)}
        )
    tags = _split(filters.compliance)
    bad = [t for t in tags if t not in COMPLIANCE_TAGS]
    if bad:
        raise ValidationFailed(
            f"unknown compliance tag {bad[0]!r}",
            details={"parameter": "compliance", "known": list(COMPLIANCE_TAGS)},
        )
    vendors = tuple(v.casefold() for v in _split(filters.gpu_vendor))
    known = known_vendors()
    odd = [v for v in vendors if v not in known]
    if odd:
        raise ValidationFailed(
            f"unknown GPU vendor {odd[0]!r}", details={"parameter": "gpu_vendor", "known": sorted(known)}
        )
    return filters.model_copy(
        update={
            "gpu": _unique(gpus),
            "provider": _unique(providers),
            "region": _unique(tuple(r.casefold() for r in _split(filters.region))),
            "compliance": _unique(tags),
            "gpu_vendor": _unique(vendors),
        }
    )


def _within(value: float | None, lo: float | None, hi: float | None) -> bool:
    """lo <= value <= hi; an unknown value never satisfies a bound (and always passes when there is none)."""
    if lo is None and hi is None:
        return True
    if value is None:
        return False
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def offer_matches(offer: Mapping[str, Any], filters: OfferFilters) -> bool:
    """Whether one offer (``Offer.model_dump(mode="json")``) passes already normalised filters."""
    f = filters
    memory, count = offer["gpu_memory_gb"], offer["gpu_count"]
    spot = offer.get("spot_price_per_hour")
    return (
        (not f.gpu or offer["gpu_model"] in f.gpu)
        and (not f.provider or offer["provider"] in f.provider)
        and (not f.region or region_predicate(f.region)(offer["region"]))
        and set(f.compliance) <= set(offer.get("compliance", ()))
        and (not f.gpu_vendor or str(offer["gpu_vendor"]).casefold() in f.gpu_vendor)
        and _within(memory, f.min_gpu_memory_gb, f.max_gpu_memory_gb)
        and _within(memory * count, f.min_total_gpu_memory_gb, f.max_total_gpu_memory_gb)
        and _within(count, f.min_gpu_count, f.max_gpu_count)
        and _within(offer.get("vcpus"), f.min_vcpus, f.max_vcpus)
        and _within(offer.get("ram_gb"), f.min_ram_gb, f.max_ram_gb)
        and _within(offer["price_per_hour"], f.min_price_per_hour, f.max_price_per_hour)
        and _within(offer["price_per_gpu_hour"], f.min_price_per_gpu_hour, f.max_price_per_gpu_hour)
        and (not f.spot or spot is not None)
        and _within(spot, f.min_spot_price_per_hour, f.max_spot_price_per_hour)
        and bool(offer["available"]) == f.available
    )
