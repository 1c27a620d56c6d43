"""Verda (formerly DataCrunch): OAuth2 client credentials, then ``GET /v1/instance-types`` and
``GET /v1/instance-availability``.

Token: ``POST /v1/oauth2/token`` with ``{"grant_type": "client_credentials", "client_id", "client_secret"}`` ->
``{"access_token", "expires_in", "token_type": "Bearer"}``. Instance types: a list of ``{instance_type, model,
name, price_per_hour (string USD), spot_price (string USD), cpu{number_of_cores}, gpu{number_of_gpus},
gpu_memory{size_in_gigabytes}, memory{size_in_gigabytes}}``; ``gpu_memory`` is the instance total (divided by
the GPU count here). Availability: ``[{location_code, availabilities: [instance_type, ...]}]``; one offer per
(type, location where it is available). CPU types (``number_of_gpus == 0``) are ``no_gpu``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from gpubroker.adapters.providers._common import ApiSource, expect_dict, expect_list, num, obj, positive
from gpubroker.adapters.providers.http import join
from gpubroker.adapters.secrets import require
from gpubroker.domain.errors import SourceError
from gpubroker.domain.offers import RawOffer, RejectedRow

DEFAULT_BASE_URL = "https://api.datacrunch.io"


def locations_by_type(answer: Any) -> dict[str, list[str]]:
    where: dict[str, list[str]] = {}
    for entry in expect_list(answer, provider="verda", what="instance-availability"):
        loc = expect_dict(entry, provider="verda", what="availability entry")
        code = str(loc.get("location_code") or "")
        for instance_type in loc.get("availabilities") or []:
            where.setdefault(str(instance_type), []).append(code)
    return where


def parse_instance_type(item: Any, locations: Mapping[str, list[str]]) -> Iterator[RawOffer | RejectedRow]:
    try:
        row = obj(item)
        instance_type = str(row.get("instance_type") or "").strip()
        count = num(obj(row.get("gpu")).get("number_of_gpus"))
        total_memory = positive(obj(row.get("gpu_memory")).get("size_in_gigabytes"))
        vcpus = positive(obj(row.get("cpu")).get("number_of_cores"))
        ram = positive(obj(row.get("memory")).get("size_in_gigabytes"))
        price = positive(row.get("price_per_hour"))
        spot = positive(row.get("spot_price"))
    except RejectedRow as rejected:
        yield rejected
        return
    if not instance_type:
        yield RejectedRow("malformed_row")
        return
    if not count:
        yield RejectedRow("no_gpu")
        return
    name = str(row.get("model") or row.get("name") or "").strip() or None
    for region in locations.get(instance_type, []):
        yield RawOffer(
            provider="verda",
            instance_type=instance_type,
            region=region,
            gpu_name=name,
            gpu_count=count,
            gpu_memory_gb=total_memory / count if total_memory else None,
            vcpus=vcpus,
            ram_gb=ram,
            price_per_hour=price,
            spot_price_per_hour=spot,
            source="verda-api",
        )


class VerdaSource(ApiSource):
    provider = "verda"
    default_base_url = DEFAULT_BASE_URL

    def _token(self) -> str:
        body = {
            "grant_type": "client_credentials",
            "client_id": require(self._credentials, "client_id", provider=self.provider),
            "client_secret": require(self._credentials, "client_secret", provider=self.provider),
        }
        answer = expect_dict(
            self._http.post_json(join(self._base, "/v1/oauth2/token"), body), provider=self.provider, what="token"
        )
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise SourceError("verda: token answer has no access_token")
        return token

    def fetch(self) -> tuple[Any, Any]:
        auth = {"Authorization": f"Bearer {self._token()}"}
        types = self._http.get_json(join(self._base, "/v1/instance-types"), headers=auth)
        availability = self._http.get_json(join(self._base, "/v1/instance-availability"), headers=auth)
        return types, availability

    def rows(self) -> Iterator[RawOffer | RejectedRow]:
        types, availability = self.fetch()
        locations = locations_by_type(availability)
        for item in expect_list(types, provider=self.provider, what="instance-types"):
            yield from parse_instance_type(item, locations)
