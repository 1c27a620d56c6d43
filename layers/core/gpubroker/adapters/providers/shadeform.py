"""Shadeform: ``GET /v1/instances/types`` (header ``X-API-KEY``), per its OpenAPI spec ``InstanceTypesResponse``.

Answer: ``{"instance_types": [{cloud, shade_instance_type, cloud_instance_type, hourly_price (US cents),
configuration: {gpu_type, num_gpus, vram_per_gpu_in_gb, vcpus, memory_in_gb, interconnect, ...},
availability: [{region, available, display_name}]}]}``. One offer per (cloud, shade type, region where
``available``); the instance type is ``<cloud>_<shade_instance_type>`` (one shade type is sold by several clouds).
Spelling quirks undone: ``A100_80G`` -> ``A100-80GB``; a bare ``H100`` gets its ``interconnect`` (``sxm5``,
``pcie``) appended, because the canonical rules need the variant and Shadeform states it only there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gpubroker.adapters.providers._common import ApiSource, expect_dict, expect_list, num, obj, positive
from gpubroker.adapters.providers.http import join
from gpubroker.adapters.secrets import require
from gpubroker.domain.offers import RawOffer, RejectedRow

DEFAULT_BASE_URL = "https://api.shadeform.ai"
_SHORT_GB = re.compile(r"_(\d+)G$", re.IGNORECASE)


def gpu_spelling(gpu_type: str, interconnect: str) -> str:
    name = _SHORT_GB.sub(r"-\1GB", gpu_type.strip())
    if name.upper() == "H100" and interconnect.lower().startswith(("sxm", "pcie")):
        name = f"H100 {interconnect}"
    return name


def parse_instance_type(item: Any) -> Iterator[RawOffer | RejectedRow]:
    try:
        row = obj(item)
        config = obj(row.get("configuration"))
        count = num(config.get("num_gpus"))
        cloud = str(row.get("cloud") or "").strip()
        shade_type = str(row.get("shade_instance_type") or "").strip()
        cents = positive(row.get("hourly_price"))
        regions = [obj(a) for a in row.get("availability") or []]
    except (RejectedRow, TypeError):
        yield RejectedRow("malformed_row")
        return
    gpu_type = str(config.get("gpu_type") or "").strip()
    if not cloud or not shade_type:
        yield RejectedRow("malformed_row")
        return
    if not gpu_type or not count:
        yield RejectedRow("no_gpu")
        return
    name = gpu_spelling(gpu_type, str(config.get("interconnect") or ""))
    for availability in regions:
        region = availability.get("region")
        if availability.get("available") is not True or not isinstance(region, str) or not region:
            continue
        yield RawOffer(
            provider="shadeform",
            instance_type=f"{cloud}_{shade_type}",
            region=region,
            gpu_name=name,
            gpu_count=count,
            gpu_memory_gb=positive(config.get("vram_per_gpu_in_gb")),
            gpu_form_factor=str(config.get("interconnect") or "") or None,  # "sxm4", "pcie": tells A100s apart
            vcpus=positive(config.get("vcpus")),
            ram_gb=positive(config.get("memory_in_gb")),
            price_per_hour=cents / 100 if cents else None,
            source="shadeform-api",
        )


class ShadeformSource(ApiSource):
    provider = "shadeform"
    default_base_url = DEFAULT_BASE_URL

    def fetch(self) -> Any:
        key = require(self._credentials, "api_key", provider=self.provider)
        return self._http.get_json(join(self._base, "/v1/instances/types"), headers={"X-API-KEY": key})

    def rows(self) -> Iterator[RawOffer | RejectedRow]:
        body = expect_dict(self.fetch(), provider=self.provider, what="answer")
        for item in expect_list(body.get("instance_types"), provider=self.provider, what="instance_types"):
            yield from parse_instance_type(item)
