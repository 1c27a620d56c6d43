"""RunPod: the GraphQL ``gpuTypes`` query (https://api.runpod.io/graphql, ``Authorization: Bearer <api_key>``).

Answer: ``{"data": {"gpuTypes": [{id, displayName, memoryInGb, maxGpuCount, secureCloud, communityCloud,
securePrice, communityPrice, secureSpotPrice, communitySpotPrice, lowestPrice{...}}]}}``. Prices are USD per
GPU-hour; RunPod prices a GPU type the same in every data centre and the answer names none, so each offer's
region is ``"global"``. One offer per cloud (SECURE / COMMUNITY, only where the cloud flag is true and the price
is positive: the answer carries placeholder prices such as 0.5 for clouds that do not offer the type) and per GPU
count 1, 2, 4, 8 up to ``maxGpuCount``; the instance price is the per-GPU price times the count. ``lowestPrice``
(``uninterruptablePrice`` / ``minimumBidPrice``) is the fallback when neither cloud price is present.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from gpubroker.adapters.providers._common import (
    ApiSource,
    expect_dict,
    expect_list,
    num,
    obj,
    positive,
    split_form_factor,
)
from gpubroker.adapters.providers.http import join
from gpubroker.adapters.secrets import require
from gpubroker.domain.errors import SourceError
from gpubroker.domain.offers import RawOffer, RejectedRow

DEFAULT_BASE_URL = "https://api.runpod.io"
GPU_COUNTS = (1, 2, 4, 8)
REGION = "global"
QUERY = """query GpuTypes {
  gpuTypes {
    id displayName memoryInGb maxGpuCount secureCloud communityCloud
    securePrice communityPrice secureSpotPrice communitySpotPrice
    lowestPrice(input: {gpuCount: 1}) { minimumBidPrice uninterruptablePrice }
  }
}"""
_CLOUDS = (("SECURE", "secureCloud", "securePrice", "secureSpotPrice"),
           ("COMMUNITY", "communityCloud", "communityPrice", "communitySpotPrice"))  # fmt: skip


def _cloud_prices(item: Mapping[str, Any]) -> list[tuple[str, float, float | None]]:
    """(cloud suffix, on-demand USD/GPU-h, spot USD/GPU-h) per cloud that offers this type."""
    found = []
    for suffix, flag, price_key, spot_key in _CLOUDS:
        price = positive(item.get(price_key))
        if item.get(flag) is not False and price is not None:
            found.append((suffix, price, positive(item.get(spot_key))))
    if not found:
        lowest = obj(item.get("lowestPrice"))
        price = positive(lowest.get("uninterruptablePrice"))
        if price is not None:
            found.append(("", price, positive(lowest.get("minimumBidPrice"))))
    return found


def parse_gpu_type(item: Any) -> Iterator[RawOffer | RejectedRow]:
    """One ``gpuTypes`` entry -> one RawOffer per (cloud, GPU count), or a RejectedRow."""
    try:
        row = obj(item)
        display = str(row.get("displayName") or row.get("id") or "").strip()
        if not display or display.lower() == "unknown":
            yield RejectedRow("no_gpu")
            return
        prices = _cloud_prices(row)
        memory = positive(row.get("memoryInGb"))
        max_count = int(num(row.get("maxGpuCount")) or 1)
    except RejectedRow as rejected:
        yield rejected
        return
    if not prices:
        yield RejectedRow("missing_price", raw_gpu=display)
        return
    # RunPod's GPU type id is NVIDIA's product name ("Tesla V100-PCIE-16GB", "NVIDIA A100-SXM4-80GB",
    # "Tesla V100-FHHL-16GB"): it tells apart variants the display name does not ("Tesla V100" is the PCIe card)
    gpu_id = str(row.get("id") or "").strip()
    gpu_name = gpu_id or split_form_factor(display)[0]
    slug = display.replace(" ", "-")
    for suffix, price, spot in prices:
        for count in (c for c in GPU_COUNTS if c <= max_count):
            yield RawOffer(
                provider="runpod",
                instance_type=f"{count}x_{slug}" + (f"_{suffix}" if suffix else ""),
                region=REGION,
                gpu_name=gpu_name,
                gpu_count=count,
                gpu_memory_gb=memory,
                price_per_hour=round(price * count, 6),
                spot_price_per_hour=round(spot * count, 6) if spot else None,
                source="runpod-api",
            )


def parse_answer(answer: Any) -> Iterator[RawOffer | RejectedRow]:
    body = expect_dict(answer, provider="runpod", what="answer")
    data = body.get("data")
    if not isinstance(data, Mapping) or data.get("gpuTypes") is None:
        errors = body.get("errors") or []
        first = errors[0].get("message", "") if errors and isinstance(errors[0], Mapping) else ""
        raise SourceError(f"runpod: GraphQL answer has no gpuTypes {first[:120]!r}".rstrip())
    for item in expect_list(data["gpuTypes"], provider="runpod", what="data.gpuTypes"):
        yield from parse_gpu_type(item)


class RunPodSource(ApiSource):
    provider = "runpod"
    default_base_url = DEFAULT_BASE_URL

    def fetch(self) -> Any:
        key = require(self._credentials, "api_key", provider=self.provider)
        return self._http.post_json(
            join(self._base, "/graphql"), {"query": QUERY}, headers={"Authorization": f"Bearer {key}"}
        )

    def rows(self) -> Iterator[RawOffer | RejectedRow]:
        yield from parse_answer(self.fetch())
