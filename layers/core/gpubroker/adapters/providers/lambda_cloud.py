"""Lambda: ``GET /api/v1/instance-types`` (``Authorization: Bearer <api_key>``; Basic with the key also works).

Answer: ``{"data": {"<name>": {"instance_type": {name, description, gpu_description, price_cents_per_hour,
specs: {vcpus, memory_gib, storage_gib, gpus}}, "regions_with_capacity_available": [{name, description}]}}}``.
One offer per (type, region with capacity); a type with capacity nowhere yields nothing (the ingestion run then
marks its old offers unavailable). ``gpu_description`` reads ``"H100 (80 GB SXM5)"``: the model is the part
before the parenthesis and the GB figure is per GPU; ``gpus == 0`` (CPU types) is ``no_gpu``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gpubroker.adapters.providers._common import ApiSource, expect_dict, num, obj, positive
from gpubroker.adapters.providers.http import join
from gpubroker.adapters.secrets import require
from gpubroker.domain.offers import RawOffer, RejectedRow

DEFAULT_BASE_URL = "https://cloud.lambda.ai"
_DESCRIPTION = re.compile(r"^(?P<model>[^(]+?)\s*(?:\((?P<gb>\d+(?:\.\d+)?)\s*GB[^)]*\))?\s*$", re.IGNORECASE)


def parse_instance_type(name: str, entry: Any) -> Iterator[RawOffer | RejectedRow]:
    try:
        row = obj(entry)
        spec = obj(row.get("instance_type"))
        specs = obj(spec.get("specs"))
        count = num(specs.get("gpus"))
        cents = positive(spec.get("price_cents_per_hour"))
        regions = [obj(r).get("name") for r in row.get("regions_with_capacity_available") or []]
    except (RejectedRow, TypeError):
        yield RejectedRow("malformed_row")
        return
    match = _DESCRIPTION.match(str(spec.get("gpu_description") or ""))
    if not count or match is None:
        yield RejectedRow("no_gpu")
        return
    instance_type = str(spec.get("name") or name)
    for region in regions:
        if not isinstance(region, str) or not region:
            yield RejectedRow("malformed_row")
            continue
        yield RawOffer(
            provider="lambda",
            instance_type=instance_type,
            region=region,
            gpu_name=match.group("model"),
            gpu_count=count,
            gpu_memory_gb=float(match.group("gb")) if match.group("gb") else None,
            vcpus=positive(specs.get("vcpus")),
            ram_gb=positive(specs.get("memory_gib")),
            price_per_hour=cents / 100 if cents else None,
            source="lambda-api",
        )


class LambdaSource(ApiSource):
    provider = "lambda"
    default_base_url = DEFAULT_BASE_URL

    def fetch(self) -> Any:
        key = require(self._credentials, "api_key", provider=self.provider)
        return self._http.get_json(
            join(self._base, "/api/v1/instance-types"), headers={"Authorization": f"Bearer {key}"}
        )

    def rows(self) -> Iterator[RawOffer | RejectedRow]:
        body = expect_dict(self.fetch(), provider=self.provider, what="answer")
        data = expect_dict(body.get("data"), provider=self.provider, what="data")
        for name, entry in data.items():
            yield from parse_instance_type(str(name), entry)
