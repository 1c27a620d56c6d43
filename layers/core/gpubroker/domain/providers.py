"""The providers GPUBroker knows (and what the latest snapshot holds of each), and region facts used for
compliance tags."""

from __future__ import annotations

import re
from functools import cache

from pydantic import AwareDatetime, BaseModel, ConfigDict


class Provider(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    display_name: str
    website: str
    marketplace: bool  # offers come from third-party hosts (community marketplace) rather than the provider's DCs


# A provider with what the latest snapshot holds for it (``services.catalog.list_providers``; GET /providers).
class ProviderOut(BaseModel):
    name: str
    display_name: str
    website: str
    marketplace: bool
    offers: int
    available_offers: int
    as_of: AwareDatetime | None
    stale: bool


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(name="runpod", display_name="RunPod", website="https://www.runpod.io", marketplace=False),
        Provider(name="vast", display_name="Vast.ai", website="https://vast.ai", marketplace=True),
        Provider(name="lambda", display_name="Lambda", website="https://lambda.ai", marketplace=False),
        Provider(name="shadeform", display_name="Shadeform", website="https://www.shadeform.ai", marketplace=True),
        Provider(name="verda", display_name="Verda (DataCrunch)", website="https://verda.com", marketplace=False),
        Provider(
            name="paperspace",
            display_name="Paperspace",
            website="https://www.paperspace.com",
            marketplace=False,
        ),
        Provider(
            name="fluidstack",
            display_name="Fluidstack",
            website="https://www.fluidstack.io",
            marketplace=False,
        ),
        Provider(name="aws", display_name="AWS", website="https://aws.amazon.com", marketplace=False),
        Provider(name="gcp", display_name="Google Cloud", website="https://cloud.google.com", marketplace=False),
        Provider(
            name="azure",
            display_name="Microsoft Azure",
            website="https://azure.microsoft.com",
            marketplace=False,
        ),
    )
}

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
