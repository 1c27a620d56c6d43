"""The offer filters' meaning, without NumPy: normalising a request's filters and testing one offer against them.

``normalise_filters`` turns what a user typed into canonical values (GPU spellings -> catalog ids, lower-case
providers, vendors and regions) and refuses unknown values with a 422. ``offer_matches`` is the per-offer
predicate: the columnar search (``services.search.filter_mask``) is property-tested to select exactly the offers
it accepts, so live-price subscriptions (which run in functions without NumPy) can filter one changed offer with
the same rules ``GET /offers`` applies.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from functools import lru_cache
from typing import Any, TypeVar

from gpubroker.domain.errors import ValidationFailed
from gpubroker.domain.gpus import UnknownGpu, bundled_catalog, gpu_models_for
from gpubroker.domain.providers import COMPLIANCE_TAGS, PROVIDERS, known_provider
from gpubroker.domain.regions import region_predicate
from gpubroker.domain.search import OfferFilters

F = TypeVar("F", bound=OfferFilters)

# Vendors a search accepts (case-insensitive): every vendor in the GPU catalog, and the ones users ask for before
# the catalog rents any of their parts (an empty page, not a 422, for "intel").
KNOWN_VENDORS = frozenset({"nvidia", "amd", "intel"})


def interpret_gpu_filter(names: tuple[str, ...]) -> tuple[list[str], dict[str, list[str]]]:
    """The canonical models a filter's GPU spellings denote, and how each spelling that is not one canonical id was
    read. Every spelling ``GET /gpus/{model}`` accepts is accepted; a family spelling matches all its variants
    (``H100`` -> H100-NVL, H100-PCIe, H100-SXM). An unknown spelling (or a TPU) is a 422, not an empty page."""
    out: list[str] = []
    interpreted: dict[str, list[str]] = {}
    for name in names:
        try:
            models = gpu_models_for(name)
        except UnknownGpu as exc:
            what = "is not a GPU" if exc.reason == "not_a_gpu" else "is not a GPU model we know"
            raise ValidationFailed(
                f"{name!r} {what}",
                details={"parameter": "gpu", "reason": exc.reason, "known": sorted(bundled_catalog().by_model())},
            ) from None
        out.extend(models)
        if list(models) != [name]:
            interpreted[name] = list(models)
    return out, interpreted


def resolve_gpu_filter(names: tuple[str, ...]) -> list[str]:
    """The canonical models a filter's GPU spellings denote: the one resolution of ``/offers?gpu=`` and of
    subscription filters (see :func:`interpret_gpu_filter`)."""
    return interpret_gpu_filter(names)[0]


def known_vendors() -> frozenset[str]:
    return KNOWN_VENDORS | {g.vendor.casefold() for g in bundled_catalog().gpus}


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    """Lists come as repeated parameters (OpenAPI ``form``, ``explode: true``); blanks are ignored."""
    return tuple(v.strip() for v in values if v.strip())


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def resolve_provider_filter(names: tuple[str, ...], known: Collection[str]) -> list[str]:
    """Provider names, case-insensitive, each a provider of the snapshot's registry (``known``); else a 422."""
    out = []
    for name in names:
        try:
            out.append(known_provider(name.casefold(), known))
        except ValueError as exc:
            raise ValidationFailed(str(exc), details={"parameter": "provider", "known": sorted(known)}) from None
    return out


def normalise_filters(filters: F, *, known_providers: Collection[str] = PROVIDERS) -> F:
    """Canonical, sorted, de-duplicated values (so equal filters hash equal); unknown values are a 422.
    ``known_providers``: the providers of the snapshot searched (``provider_names(manifest)``)."""
    gpus = tuple(resolve_gpu_filter(_split(filters.gpu)))
    providers = tuple(resolve_provider_filter(_split(filters.provider), known_providers))
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


@lru_cache(maxsize=1024)
def _region_matcher(values: tuple[str, ...]) -> Callable[[str], bool]:
    return region_predicate(values)


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
        and (not f.region or _region_matcher(f.region)(offer["region"]))
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
