"""Google Cloud: Cloud Billing Catalog API, ``GET /v1/services/6F81-5844-456A/skus?key=<api_key>`` (Compute
Engine), paginated by ``nextPageToken`` / ``pageToken``.

Answer: ``{"skus": [{skuId, description, category{resourceGroup, usageType}, serviceRegions, pricingInfo:
[{pricingExpression: {usageUnit: "h", tieredRates: [{unitPrice: {units, nanos}}]}}]}], "nextPageToken"}``.
GPU SKUs are priced per GPU-hour (USD = units + nanos / 1e9). On-demand SKUs read "Nvidia Tesla A100 GPU running
in Belgium"; "... attached to Spot Preemptible VMs ..." is the spot price. Commitments, reservations, DWS and
licence SKUs are not offers and are skipped. The region is ``serviceRegions[0]`` when present, else the place
in the description mapped by ``LOCATIONS`` (unknown places are kept as written).

GPUs are sold attached to machine types; ``MACHINES`` (from https://cloud.google.com/compute/docs/gpus and the
accelerator-optimized machine family pages) lists them per accelerator with GPU count, vCPUs and RAM. **The host
part (vCPU, RAM) is not priced here: price = GPU-hour price x GPU count**, a lower bound of the VM price. For
N1-attached GPUs (T4, V100, P100, P4) the host is free to choose, so the instance type is
``<accelerator>x<count>`` with no vCPU/RAM.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from gpubroker.adapters.providers._common import MAX_PAGES, ApiSource, expect_dict, expect_list, obj
from gpubroker.adapters.providers.http import join
from gpubroker.adapters.secrets import require
from gpubroker.domain.errors import SourceError
from gpubroker.domain.offers import RawOffer, RejectedRow

DEFAULT_BASE_URL = "https://cloudbilling.googleapis.com"
COMPUTE_SERVICE = "6F81-5844-456A"


class Machine(NamedTuple):
    instance_type: str
    gpus: int
    vcpus: float | None
    ram_gb: float | None


class Accelerator(NamedTuple):
    gpu_name: str  # what normalisation canonicalises; GCP's accelerator id in ACCELERATORS' keys
    memory_gb: float
    machines: tuple[Machine, ...]


def _n1(accel: str, counts: tuple[int, ...]) -> tuple[Machine, ...]:
    return tuple(Machine(f"{accel}x{n}", n, None, None) for n in counts)


def _family(prefix: str, rows: tuple[tuple[str, int, float, float], ...]) -> tuple[Machine, ...]:
    return tuple(Machine(f"{prefix}-{suffix}", n, cpu, ram) for suffix, n, cpu, ram in rows)


_A2_HIGH = (("1g", 1, 12, 85), ("2g", 2, 24, 170), ("4g", 4, 48, 340), ("8g", 8, 96, 680))
_A2_ULTRA = (("1g", 1, 12, 170), ("2g", 2, 24, 340), ("4g", 4, 48, 680), ("8g", 8, 96, 1360))
_A3_HIGH = (("1g", 1, 26, 234), ("2g", 2, 52, 468), ("4g", 4, 104, 936), ("8g", 8, 208, 1872))
_G2 = (("4", 1, 4, 16), ("8", 1, 8, 32), ("12", 1, 12, 48), ("16", 1, 16, 64), ("32", 1, 32, 128),
       ("24", 2, 24, 96), ("48", 4, 48, 192), ("96", 8, 96, 384))  # fmt: skip

# GCP accelerator id -> GPU, per-GPU memory and the machine types it comes in. A3 machines carry H100 SXM5
# (GCP's id does not say SXM, its A3 documentation does); a2-highgpu = A100 40GB, a2-ultragpu = A100 80GB.
ACCELERATORS: dict[str, Accelerator] = {
    "nvidia-tesla-a100": Accelerator(
        "A100 40GB", 40, (*_family("a2-highgpu", _A2_HIGH), Machine("a2-megagpu-16g", 16, 96, 1360))
    ),
    "nvidia-a100-80gb": Accelerator("A100 80GB", 80, _family("a2-ultragpu", _A2_ULTRA)),
    "nvidia-h100-80gb": Accelerator("H100 SXM", 80, _family("a3-highgpu", _A3_HIGH)),
    "nvidia-h100-mega-80gb": Accelerator("H100 SXM", 80, (Machine("a3-megagpu-8g", 8, 208, 1872),)),
    "nvidia-h200-141gb": Accelerator("H200", 141, (Machine("a3-ultragpu-8g", 8, 224, 2952),)),
    "nvidia-l4": Accelerator("L4", 24, _family("g2-standard", _G2)),
    "nvidia-tesla-t4": Accelerator("T4", 16, _n1("nvidia-tesla-t4", (1, 2, 4))),
    "nvidia-tesla-v100": Accelerator("V100 16GB", 16, _n1("nvidia-tesla-v100", (1, 2, 4, 8))),
    "nvidia-tesla-p100": Accelerator("P100", 16, _n1("nvidia-tesla-p100", (1, 2, 4))),
    "nvidia-tesla-p4": Accelerator("P4", 8, _n1("nvidia-tesla-p4", (1, 2, 4))),
}
# the GPU as SKU descriptions name it -> accelerator id
SKU_GPUS: dict[str, str] = {
    "Nvidia Tesla A100": "nvidia-tesla-a100",
    "Nvidia Tesla A100 80GB": "nvidia-a100-80gb",
    "Nvidia H100 80GB": "nvidia-h100-80gb",
    "Nvidia H100 80GB Mega": "nvidia-h100-mega-80gb",
    "H200 141GB": "nvidia-h200-141gb",
    "Nvidia L4": "nvidia-l4",
    "Nvidia Tesla T4": "nvidia-tesla-t4",
    "Nvidia Tesla V100": "nvidia-tesla-v100",
    "Nvidia Tesla P100": "nvidia-tesla-p100",
    "Nvidia Tesla P4": "nvidia-tesla-p4",
}
# SKU description place -> region id (https://cloud.google.com/compute/docs/regions-zones)
LOCATIONS: dict[str, str] = {
    "Belgium": "europe-west1", "Berlin": "europe-west10", "Columbus": "us-east5", "Dallas": "us-south1",
    "Dammam": "me-central2", "Delhi": "asia-south2", "Doha": "me-central1", "Finland": "europe-north1",
    "Frankfurt": "europe-west3", "Hong Kong": "asia-east2", "Iowa": "us-central1", "Israel": "me-west1",
    "Jakarta": "asia-southeast2", "Johannesburg": "africa-south1", "Las Vegas": "us-west4",
    "London": "europe-west2", "Los Angeles": "us-west2", "Madrid": "europe-southwest1",
    "Melbourne": "australia-southeast2", "Milan": "europe-west8", "Montreal": "northamerica-northeast1",
    "Mumbai": "asia-south1", "Netherlands": "europe-west4", "Northern Virginia": "us-east4",
    "Oregon": "us-west1", "Osaka": "asia-northeast2", "Paris": "europe-west9", "Salt Lake City": "us-west3",
    "Santiago": "southamerica-west1", "Sao Paulo": "southamerica-east1", "Seoul": "asia-northeast3",
    "Singapore": "asia-southeast1", "South Carolina": "us-east1", "Stockholm": "europe-north2",
    "Sydney": "australia-southeast1", "Taiwan": "asia-east1", "Tokyo": "asia-northeast1",
    "Toronto": "northamerica-northeast2", "Turin": "europe-west12", "Warsaw": "europe-central2",
    "Zurich": "europe-west6",
}  # fmt: skip
_SKU = re.compile(
    r"^(?P<gpu>.+?) GPU(?: attached to (?P<kind>Spot Preemptible|Preemptible) VMs)? running in (?P<place>.+)$"
)
_NOT_OFFERS = ("Commitment", "Reserved", "Licensing", "DWS")


def unit_price(sku: Mapping[str, Any]) -> float | None:
    """USD per usage unit (hour) of the last tier, from ``units`` + ``nanos``."""
    for info in sku.get("pricingInfo") or []:
        expression = obj(obj(info).get("pricingExpression"))
        if expression.get("usageUnit") != "h":
            return None
        rates = expression.get("tieredRates") or []
        if rates:
            price = obj(obj(rates[-1]).get("unitPrice"))
            try:
                return int(price.get("units") or 0) + int(price.get("nanos") or 0) / 1e9
            except (TypeError, ValueError):
                raise RejectedRow("malformed_row") from None
    return None


class GpuPrice(NamedTuple):
    accelerator: str
    region: str
    spot: bool
    usd_per_gpu_hour: float


def parse_sku(item: Any) -> GpuPrice | RejectedRow | None:
    """One SKU -> its GPU price; None for SKUs that are not on-demand/spot GPU prices (commitments, licences)."""
    try:
        sku = obj(item)
        description = str(sku.get("description") or "")
        if any(word in description for word in _NOT_OFFERS):
            return None
        match = _SKU.match(description)
        if match is None:
            return None
        accelerator = SKU_GPUS.get(match.group("gpu"))
        if accelerator is None:
            return RejectedRow("unknown_gpu", raw_gpu=match.group("gpu"))
        regions = sku.get("serviceRegions") or []
        place = match.group("place")
        region = str(regions[0]) if regions else LOCATIONS.get(place, place)
        price = unit_price(sku)
        if price is None or price <= 0:
            return RejectedRow("missing_price", raw_gpu=match.group("gpu"))
        return GpuPrice(accelerator, region, match.group("kind") is not None, price)
    except RejectedRow as rejected:
        return rejected


def offers(prices: Mapping[tuple[str, str], dict[bool, float]]) -> Iterator[RawOffer | RejectedRow]:
    """Per (accelerator, region) with an on-demand price: one RawOffer per machine type of that accelerator."""
    for (accelerator, region), by_kind in prices.items():
        gpu_price = by_kind.get(False)
        if gpu_price is None:
            yield RejectedRow("missing_price", raw_gpu=accelerator)
            continue
        spot = by_kind.get(True)
        spec = ACCELERATORS[accelerator]
        for machine in spec.machines:
            yield RawOffer(
                provider="gcp",
                instance_type=machine.instance_type,
                region=region,
                gpu_name=spec.gpu_name,
                gpu_count=machine.gpus,
                gpu_memory_gb=spec.memory_gb,
                vcpus=machine.vcpus,
                ram_gb=machine.ram_gb,
                price_per_hour=round(gpu_price * machine.gpus, 6),
                spot_price_per_hour=round(spot * machine.gpus, 6) if spot else None,
                source="gcp-billing-catalog",
            )


class GcpBillingSource(ApiSource):
    provider = "gcp"
    default_base_url = DEFAULT_BASE_URL

    def pages(self) -> Iterator[Mapping[str, Any]]:
        key = require(self._credentials, "api_key", provider=self.provider)
        url = join(self._base, f"/v1/services/{COMPUTE_SERVICE}/skus")
        params = {"key": key, "currencyCode": "USD", "pageSize": "5000"}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = expect_dict(self._http.get_json(url, params=params), provider=self.provider, what="answer")
            yield page
            token = page.get("nextPageToken") or ""
            if not token:
                return
            if token in seen:
                raise SourceError("gcp: pagination repeats a page token")
            seen.add(token)
            params = {**params, "pageToken": str(token)}
        raise SourceError(f"gcp: more than {MAX_PAGES} pages")

    def rows(self) -> Iterator[RawOffer | RejectedRow]:
        prices: dict[tuple[str, str], dict[bool, float]] = {}
        for page in self.pages():
            for item in expect_list(page.get("skus", []), provider=self.provider, what="skus"):
                parsed = parse_sku(item)
                if isinstance(parsed, RejectedRow):
                    yield parsed
                elif parsed is not None:
                    slot = prices.setdefault((parsed.accelerator, parsed.region), {})
                    slot.setdefault(parsed.spot, parsed.usd_per_gpu_hour)
        yield from offers(prices)
