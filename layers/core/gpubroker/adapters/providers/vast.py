"""Vast.ai: offer search, ``POST /api/v0/bundles/`` with a JSON query (``Authorization: Bearer <api_key>``).

Answer: ``{"offers": [{id, machine_id, gpu_name, num_gpus, gpu_ram, dph_total, min_bid, geolocation,
cpu_cores_effective, cpu_ram, reliability2, verified, ...}]}``. Units undone here: ``gpu_ram`` is MB per GPU
(measured, so an RTX 4090 reads 24564), ``cpu_ram`` MB of host RAM, ``dph_total`` USD/h for the whole offer,
``min_bid`` USD/h the interruptible (spot) floor. Each offer is one host's ask, so the offer id is part of the
instance type; a form-factor word in ``gpu_name`` ("A100 SXM4", "H100 PCIE") moves into the instance type.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gpubroker.adapters.providers._common import (
    MIB_PER_GB,
    ApiSource,
    expect_dict,
    expect_list,
    num,
    obj,
    positive,
    split_form_factor,
)
from gpubroker.adapters.providers.http import HttpClient, join
from gpubroker.adapters.secrets import Credentials, require
from gpubroker.domain.offers import RawOffer, RejectedRow

DEFAULT_BASE_URL = "https://console.vast.ai"
QUERY: dict[str, Any] = {
    "verified": {"eq": True},
    "rentable": {"eq": True},
    "rented": {"eq": False},
    "external": {"eq": False},
    "num_gpus": {"gte": 1},
    "type": "on-demand",
    "order": [["dph_total", "asc"]],
    "limit": 5000,
}


def parse_offer(item: Any) -> RawOffer | RejectedRow:
    try:
        row = obj(item)
        offer_id = row.get("id")
        name = str(row.get("gpu_name") or "").strip()
        count = num(row.get("num_gpus"))
        region = str(row.get("geolocation") or "").strip()
        if offer_id is None or not region:
            return RejectedRow("malformed_row")
        if not name or not count:
            return RejectedRow("no_gpu")
        gpu_name, form_factor = split_form_factor(name)
        memory = positive(row.get("gpu_ram"))
        ram = positive(row.get("cpu_ram"))
        return RawOffer(
            provider="vast",
            instance_type=f"{int(count)}x-{name.replace(' ', '_')}-{offer_id}",
            region=region,
            gpu_name=gpu_name if form_factor else name,
            gpu_count=count,
            gpu_memory_gb=memory / MIB_PER_GB if memory else None,
            vcpus=positive(row.get("cpu_cores_effective")),
            ram_gb=ram / MIB_PER_GB if ram else None,
            price_per_hour=positive(row.get("dph_total")),
            spot_price_per_hour=positive(row.get("min_bid")),
            source="vast-api",
        )
    except RejectedRow as rejected:
        return rejected


class VastSource(ApiSource):
    provider = "vast"
    default_base_url = DEFAULT_BASE_URL

    def __init__(
        self,
        *,
        credentials: Credentials,
        base_url: str | None = None,
        http: HttpClient | None = None,
        query: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(credentials=credentials, base_url=base_url, http=http)
        self._query = query or QUERY

    def fetch(self) -> Any:
        key = require(self._credentials, "api_key", provider=self.provider)
        return self._http.post_json(
            join(self._base, "/api/v0/bundles/"), self._query, headers={"Authorization": f"Bearer {key}"}
        )

    def rows(self) -> Iterator[RawOffer | RejectedRow]:
        body = expect_dict(self.fetch(), provider=self.provider, what="answer")
        for item in expect_list(body.get("offers"), provider=self.provider, what="offers"):
            yield parse_offer(item)
