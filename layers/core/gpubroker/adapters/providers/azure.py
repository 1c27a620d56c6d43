"""Azure: the public Retail Prices API, ``GET https://prices.azure.com/api/retail/prices?$filter=...`` (no key),
paginated by ``NextPageLink`` (followed on the configured host only).

Answer: ``{"BillingCurrency": "USD", "Items": [{armSkuName, armRegionName, retailPrice, unitOfMeasure: "1 Hour",
productName, skuName, meterName, type: "Consumption", serviceName, ...}], "NextPageLink": ..., "Count"}``.
Kept: ``type == "Consumption"`` Linux prices. Skipped as other prices of the same offer: Windows products,
``Low Priority`` SKUs, DevTest and Reservation types, Dedicated Host products. ``... Spot`` SKUs become the spot
price of the same SKU and region. Two spellings of one SKU in one region give one offer (the rest ``duplicate``).

The API names no GPU, so ``SKUS`` maps each VM size to GPU model, count, vCPUs and RAM (GiB), from the Azure VM
size pages (https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/). Lookup ignores case,
the ``Standard_`` prefix, underscores and spaces, so ``Standard_ND96isr_H100_v5`` and ``ND96isrH100v5`` meet.
Sizes not in the table are reported as ``unknown_gpu`` with the raw name (never guessed).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from gpubroker.adapters.providers._common import MAX_PAGES, ApiSource, expect_dict, expect_list, obj, positive
from gpubroker.adapters.providers.http import HttpClient, join, same_host_link
from gpubroker.adapters.secrets import Credentials
from gpubroker.domain.errors import SourceError
from gpubroker.domain.offers import RawOffer, RejectedRow

DEFAULT_BASE_URL = "https://prices.azure.com"
API_VERSION = "2023-01-01-preview"


class Size(NamedTuple):
    arm_sku_name: str
    gpu_name: str
    gpus: int
    vcpus: int
    ram_gb: float
    memory_gb: float  # per GPU


_SIZES = (
    # NC A100 v4: A100 80GB PCIe
    Size("Standard_NC24ads_A100_v4", "A100 80GB PCIe", 1, 24, 220, 80),
    Size("Standard_NC48ads_A100_v4", "A100 80GB PCIe", 2, 48, 440, 80),
    Size("Standard_NC96ads_A100_v4", "A100 80GB PCIe", 4, 96, 880, 80),
    # ND A100 v4: 8x A100 40GB SXM4; NDm A100 v4: 8x A100 80GB SXM4
    Size("Standard_ND96asr_v4", "A100 40GB", 8, 96, 900, 40),
    Size("Standard_ND96amsr_A100_v4", "A100 80GB SXM", 8, 96, 1900, 80),
    # ND H100 v5: 8x H100 SXM5; NC H100 v5 and NCC H100 v5: H100 NVL 94GB
    Size("Standard_ND96isr_H100_v5", "H100 SXM", 8, 96, 1900, 80),
    Size("Standard_NC40ads_H100_v5", "H100 NVL", 1, 40, 320, 94),
    Size("Standard_NC80adis_H100_v5", "H100 NVL", 2, 80, 640, 94),
    Size("Standard_NCC40ads_H100_v5", "H100 NVL", 1, 40, 320, 94),
    # ND H200 v5; ND GB200 v6 (4 Blackwell GPUs per VM)
    Size("Standard_ND96isr_H200_v5", "H200", 8, 96, 1850, 141),
    Size("Standard_ND128isr_NDR_GB200_v6", "GB200", 4, 128, 900, 186),
    # NCv3: V100 16GB; NDv2: 8x V100 32GB; NCasT4_v3: T4; NVadsA10 v5 full-GPU size: A10
    Size("Standard_NC6s_v3", "V100 16GB", 1, 6, 112, 16),
    Size("Standard_NC12s_v3", "V100 16GB", 2, 12, 224, 16),
    Size("Standard_NC24s_v3", "V100 16GB", 4, 24, 448, 16),
    Size("Standard_ND40rs_v2", "V100 32GB", 8, 40, 672, 32),
    Size("Standard_NC4as_T4_v3", "T4", 1, 4, 28, 16),
    Size("Standard_NC8as_T4_v3", "T4", 1, 8, 56, 16),
    Size("Standard_NC16as_T4_v3", "T4", 1, 16, 110, 16),
    Size("Standard_NC64as_T4_v3", "T4", 4, 64, 440, 16),
    Size("Standard_NV36ads_A10_v5", "A10", 1, 36, 440, 24),
)
# other spellings seen in Retail Prices answers -> the documented size
_ALIASES = {
    "ND96asr_A100_v4": "Standard_ND96asr_v4",
    "ND96asrA100v4_NU": "Standard_ND96asr_v4",
    "ND96amsA100v4": "Standard_ND96amsr_A100_v4",
}


def sku_key(name: str) -> str:
    key = name.strip().lower()
    key = key.removeprefix("standard_")
    return key.replace("_", "").replace(" ", "")


SKUS: dict[str, Size] = {sku_key(s.arm_sku_name): s for s in _SIZES}
SKUS.update({sku_key(alias): SKUS[sku_key(target)] for alias, target in _ALIASES.items()})


def default_filter() -> str:
    names = " or ".join(f"armSkuName eq '{s.arm_sku_name}'" for s in _SIZES)
    return f"serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and ({names})"


class _Price(NamedTuple):
    size: Size
    region: str
    spot: bool
    usd_per_hour: float


def _is_other_price(row: Mapping[str, Any]) -> bool:
    """Windows, low-priority, DevTest/Reservation and Dedicated Host prices: not the Linux VM offer."""
    product = str(row.get("productName") or "")
    sku_name = str(row.get("skuName") or row.get("meterName") or "")
    return (
        row.get("type", "Consumption") != "Consumption"
        or "Windows" in product
        or "Dedicated Host" in product
        or sku_name.endswith("Low Priority")
    )


def classify(item: Any) -> _Price | RejectedRow | None:
    """One item -> a price of a known size; None when it is another price of an offer (Windows, low priority)."""
    try:
        row = obj(item)
        if _is_other_price(row):
            return None
        arm = str(row.get("armSkuName") or "").strip()
        region = str(row.get("armRegionName") or "").strip()
        if not arm or not region or row.get("unitOfMeasure", "1 Hour") != "1 Hour":
            raise RejectedRow("malformed_row")
        size = SKUS.get(sku_key(arm))
        if size is None:
            raise RejectedRow("unknown_gpu", raw_gpu=arm)
        price = positive(row.get("retailPrice"))
        if price is None:
            raise RejectedRow("missing_price", raw_gpu=arm)
        spot = str(row.get("skuName") or row.get("meterName") or "").endswith("Spot")
        return _Price(size, region, spot, price)
    except RejectedRow as rejected:
        return rejected


def offers(items: Iterator[Any]) -> Iterator[RawOffer | RejectedRow]:
    on_demand: dict[tuple[str, str], float] = {}
    spot: dict[tuple[str, str], float] = {}
    sizes: dict[str, Size] = {}
    for item in items:
        parsed = classify(item)
        if parsed is None:
            continue
        if isinstance(parsed, RejectedRow):
            yield parsed
            continue
        key = (parsed.size.arm_sku_name, parsed.region)
        sizes[parsed.size.arm_sku_name] = parsed.size
        target = spot if parsed.spot else on_demand
        if key in target:
            yield RejectedRow("duplicate")
            continue
        target[key] = parsed.usd_per_hour
    for key in spot.keys() - on_demand.keys():
        yield RejectedRow("missing_price", raw_gpu=key[0])
    for (arm, region), price in on_demand.items():
        size = sizes[arm]
        yield RawOffer(
            provider="azure",
            instance_type=arm,
            region=region,
            gpu_name=size.gpu_name,
            gpu_count=size.gpus,
            gpu_memory_gb=size.memory_gb,
            vcpus=size.vcpus,
            ram_gb=size.ram_gb,
            price_per_hour=price,
            spot_price_per_hour=spot.get((arm, region)),
            source="azure-retail-prices",
        )


class AzureRetailSource(ApiSource):
    provider = "azure"
    default_base_url = DEFAULT_BASE_URL

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        base_url: str | None = None,
        http: HttpClient | None = None,
        odata_filter: str | None = None,
    ) -> None:
        super().__init__(credentials=credentials, base_url=base_url, http=http)  # public API: credentials unused
        self._filter = odata_filter or default_filter()

    def pages(self) -> Iterator[Mapping[str, Any]]:
        url = join(self._base, "/api/retail/prices")
        params: dict[str, str] | None = {"api-version": API_VERSION, "currencyCode": "USD", "$filter": self._filter}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = expect_dict(self._http.get_json(url, params=params), provider=self.provider, what="answer")
            yield page
            link = page.get("NextPageLink")
            if not link:
                return
            url, params = same_host_link(self._base, str(link)), None
            if url in seen:
                raise SourceError("azure: pagination repeats a NextPageLink")
            seen.add(url)
        raise SourceError(f"azure: more than {MAX_PAGES} pages")

    def _items(self) -> Iterator[Any]:
        for page in self.pages():
            yield from expect_list(page.get("Items"), provider=self.provider, what="Items")

    def rows(self) -> Iterator[RawOffer | RejectedRow]:
        yield from offers(self._items())
