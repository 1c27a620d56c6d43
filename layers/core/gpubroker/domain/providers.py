"""The providers GPUBroker knows (and what the latest snapshot holds of each), and region facts used for
compliance tags.

Two kinds of provider (docs/decisions.md, "Any catalog, any provider"):

- **built-in**: ``PROVIDERS`` below, named in the code (an API adapter, a scheduled catalog, a marketplace rule).
  Always known; never removed.
- **catalog-only**: any other name a SkyPilot-format catalog is ingested under (``make ingest ... PROVIDER=nebius
  DISPLAY_NAME=Nebius WEBSITE=https://nebius.com``). Its registration (name, display name, website, marketplace)
  is stored beside its offers by the ingestion function, the one writer of the snapshot, and published in the
  snapshot manifest's ``registry``; removing it (``DELETE /providers/{name}``, ``make remove-provider``) takes it
  out of the registry and the snapshot.

Every provider name that enters from outside (an ingestion event, a query parameter, a path, a subscription)
has the shape ``PROVIDER_NAME_PATTERN`` (2-32 characters: lower-case letters and digits in hyphen-separated
words, starting with a letter): it is part of offer ids (``<provider>-<hash>``), S3 keys and index keys.
Membership is checked against the registry where the answer depends on it (``known_provider``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

PROVIDER_NAME_PATTERN = r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$"
PROVIDER_NAME_MIN_LENGTH = 2
PROVIDER_NAME_MAX_LENGTH = 32
ProviderName = Annotated[
    str,
    Field(min_length=PROVIDER_NAME_MIN_LENGTH, max_length=PROVIDER_NAME_MAX_LENGTH, pattern=PROVIDER_NAME_PATTERN),
]
DISPLAY_NAME_PATTERN = r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$"  # printable, not blank
WEBSITE_PATTERN = r"^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[^\s]*)?$"
_NAME = re.compile(PROVIDER_NAME_PATTERN)


class Provider(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: ProviderName
    display_name: str = Field(min_length=1, max_length=64, pattern=DISPLAY_NAME_PATTERN)
    website: str | None = Field(default=None, max_length=256, pattern=WEBSITE_PATTERN)
    marketplace: bool = False  # offers come from third-party hosts (community marketplace) rather than its DCs
    builtin: bool = False


# A provider with what the latest snapshot holds for it (``services.catalog.list_providers``; GET /providers).
class ProviderOut(BaseModel):
    name: str
    display_name: str
    website: str | None = Field(description="null for a catalog-only provider registered without one")
    marketplace: bool
    builtin: bool = Field(
        description="named in the code (an adapter or a scheduled catalog); false: a catalog-only provider added by "
        "ingesting its catalog, which an admin may remove"
    )
    offers: int
    available_offers: int
    as_of: AwareDatetime | None
    stale: bool


class ProviderRemoval(BaseModel):
    """What removing a catalog-only provider did (the ingestion function's answer to a removal event, and the
    body of ``DELETE /providers/{name}``)."""

    provider: str
    status: Literal["removed"] = "removed"
    marked_unavailable: int = Field(description="its live offers, now marked unavailable")
    snapshot_version: str = Field(description="the snapshot published without it")


def _builtin(name: str, display_name: str, website: str, *, marketplace: bool = False) -> Provider:
    return Provider(name=name, display_name=display_name, website=website, marketplace=marketplace, builtin=True)


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        _builtin("runpod", "RunPod", "https://www.runpod.io"),
        _builtin("vast", "Vast.ai", "https://vast.ai", marketplace=True),
        _builtin("lambda", "Lambda", "https://lambda.ai"),
        _builtin("shadeform", "Shadeform", "https://www.shadeform.ai", marketplace=True),
        _builtin("verda", "Verda (DataCrunch)", "https://verda.com"),
        _builtin("paperspace", "Paperspace", "https://www.paperspace.com"),
        _builtin("fluidstack", "Fluidstack", "https://www.fluidstack.io"),
        _builtin("aws", "AWS", "https://aws.amazon.com"),
        _builtin("gcp", "Google Cloud", "https://cloud.google.com"),
        _builtin("azure", "Microsoft Azure", "https://azure.microsoft.com"),
    )
}
"""The built-in providers (see the module docstring)."""


def default_display_name(name: str) -> str:
    """What a catalog-only provider is called when its registration gives no display name: ``nebius`` ->
    ``Nebius``, ``prime-intellect`` -> ``Prime Intellect``."""
    return " ".join(word.capitalize() for word in name.split("-"))


def check_provider_name(name: str) -> str:
    """The shape every provider name must have (``PROVIDER_NAME_PATTERN``, 2-32 characters); raises ValueError
    naming the rule otherwise. Usable as a pydantic field validator."""
    if not PROVIDER_NAME_MIN_LENGTH <= len(name) <= PROVIDER_NAME_MAX_LENGTH or not _NAME.match(name):
        raise ValueError(
            f"invalid provider name {name!r}: {PROVIDER_NAME_MIN_LENGTH}-{PROVIDER_NAME_MAX_LENGTH} lower-case "
            "letters and digits in hyphen-separated words, starting with a letter"
        )
    return name


def registered(manifest: Mapping[str, Any] | None) -> dict[str, Provider]:
    """The catalog-only providers a snapshot manifest publishes (``manifest["registry"]``), by name."""
    entries = (manifest or {}).get("registry") or {}
    return {
        name: Provider.model_validate({**info, "name": name, "builtin": False})
        for name, info in entries.items()
        if name not in PROVIDERS
    }


def provider_names(manifest: Mapping[str, Any] | None) -> frozenset[str]:
    """Every provider known to the snapshot a manifest describes: the built-ins and its registry's."""
    return frozenset(PROVIDERS) | frozenset((manifest or {}).get("registry") or ())


def known_provider(name: str, known: Collection[str] | None) -> str:
    """The one registry-aware check of a provider name from outside: its shape, then membership in ``known``
    (``provider_names(manifest)``) when the caller has the registry at hand (``None``: the shape only). Raises
    ValueError naming the rule or the unknown name."""
    check_provider_name(name)
    if known is not None and name not in known:
        raise ValueError(f"unknown provider {name!r}")
    return name


def is_marketplace(name: str, manifest: Mapping[str, Any] | None) -> bool:
    """Whether a provider's offers come from third-party hosts: the built-in's flag, else its registration's
    (a catalog-only provider is not a marketplace unless it was registered as one)."""
    if name in PROVIDERS:
        return PROVIDERS[name].marketplace
    info = ((manifest or {}).get("registry") or {}).get(name) or {}
    return bool(info.get("marketplace", False))


# Compliance tags an offer can carry. Each is derived from facts in the offer itself (documented in
# docs/decisions.md), never from marketing claims we cannot check.
COMPLIANCE_TAGS: tuple[str, ...] = ("eu-data-residency", "secure-cloud", "community-cloud", "dedicated-host")

# EU/EEA member states (GDPR applies): ISO codes and the names/spellings providers use in region strings.
_EEA_CODES = {
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
    "IS",
    "LI",
    "NO",
}
_EEA_NAMES = {
    "austria",
    "belgium",
    "bulgaria",
    "croatia",
    "cyprus",
    "czechia",
    "denmark",
    "estonia",
    "finland",
    "france",
    "germany",
    "greece",
    "hungary",
    "ireland",
    "italy",
    "latvia",
    "lithuania",
    "luxembourg",
    "malta",
    "netherlands",
    "poland",
    "portugal",
    "romania",
    "slovakia",
    "slovenia",
    "spain",
    "sweden",
    "iceland",
    "liechtenstein",
    "norway",
    "fin",
    "ice",
    "europe",
    # Azure region names (one word each)
    "westeurope",
    "northeurope",
    "swedencentral",
    "swedensouth",
    "francecentral",
    "francesouth",
    "germanywestcentral",
    "germanynorth",
    "norwayeast",
    "norwaywest",
    "polandcentral",
    "italynorth",
    "spaincentral",
    "austriaeast",
    "belgiumcentral",
    "denmarkeast",
}
# "europe-*" regions outside the EU/EEA (GCP London and Zurich; Azure UK and Switzerland)
_NOT_EEA = {"europe-west2", "europe-west6", "uksouth", "ukwest", "switzerlandnorth", "switzerlandwest"}
_VAST_REGION = re.compile(r",\s*(?P<cc>[A-Z]{2}),\s*[A-Z]{2}$")


@cache
def in_eea(region: str) -> bool:
    """True when a provider's region string names a place in the EU/EEA.

    Understands ``"Germany, DE, EU"`` (Vast: the ISO code decides, so ``RU, EU`` is not EEA), two-letter codes
    (RunPod), ``frankfurt-germany-5`` / ``europe-central-1`` / ``FIN-01`` (word parts) and ``GERMANY``.
    """
    if region.strip().lower() in _NOT_EEA:
        return False
    vast = _VAST_REGION.search(region)
    if vast:
        return vast.group("cc") in _EEA_CODES
    if region.strip().upper() in _EEA_CODES:
        return True
    words = {w for w in re.split(r"[^a-z]+", region.lower()) if w}
    return bool(words & _EEA_NAMES)
