"""AWS: the Price List Query API, ``pricing:GetProducts`` (SigV4-signed JSON over HTTPS, us-east-1 endpoint).

Request: ``POST /`` with ``X-Amz-Target: AWSPriceListService.GetProducts`` and ``{"ServiceCode": "AmazonEC2",
"Filters": [TERM_MATCH ...], "FormatVersion": "aws_v1", "MaxResults": 100, "NextToken": ...}``. Answer:
``{"FormatVersion", "NextToken", "PriceList": ["<JSON string>", ...]}``; each string is a product with
``product.attributes`` (instanceType, vcpu, memory "1152 GiB", gpu, regionCode, operatingSystem, tenancy,
preInstalledSw, capacitystatus) and ``terms.OnDemand.<offer>.priceDimensions.<dim>.pricePerUnit.USD`` per hour.
The price list names no GPU model, so the families are mapped by the documented table below
(https://aws.amazon.com/ec2/instance-types/, "Accelerated Computing"); unmapped GPU families are reported as
``unknown_gpu``. Spot prices are not in the price list (``spot_price_per_hour`` stays None).

Signing uses botocore's default credential chain (the Lambda role needs ``pricing:GetProducts``), unless the
credentials object carries ``aws_access_key_id`` / ``aws_secret_access_key``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from gpubroker.adapters.providers._common import MAX_PAGES, ApiSource, expect_dict, expect_list, obj, positive
from gpubroker.adapters.providers.http import join
from gpubroker.domain.errors import SourceError
from gpubroker.domain.offers import RawOffer, RejectedRow

DEFAULT_BASE_URL = "https://api.pricing.us-east-1.amazonaws.com"
SIGNING_REGION = "us-east-1"
TARGET = "AWSPriceListService.GetProducts"


class Family(NamedTuple):
    gpu_name: str
    memory_gb: float  # per GPU


# instance family -> GPU (per AWS's instance-type pages); p3dn is the 32 GB V100, p4de the 80 GB A100
FAMILIES: dict[str, Family] = {
    "p3": Family("V100", 16),
    "p3dn": Family("V100", 32),
    "p4d": Family("A100", 40),
    "p4de": Family("A100", 80),
    "p5": Family("H100 SXM", 80),
    "p5e": Family("H200", 141),
    "p5en": Family("H200", 141),
    "g4dn": Family("T4", 16),
    "g5": Family("A10G", 24),
    "g6": Family("L4", 24),
    "g6e": Family("L40S", 48),
}
FILTERS: dict[str, str] = {
    "instanceFamily": "GPU instance",
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
}


def _on_demand_usd(terms: Mapping[str, Any]) -> float | None:
    for offer in obj(terms.get("OnDemand")).values():
        for dimension in obj(obj(offer).get("priceDimensions")).values():
            dim = obj(dimension)
            if str(dim.get("unit", "Hrs")).lower().startswith("hr"):
                price = positive(obj(dim.get("pricePerUnit")).get("USD"))
                if price is not None:
                    return price
    return None


def parse_product(entry: Any) -> RawOffer | RejectedRow | None:
    """One PriceList entry (a JSON string) -> RawOffer; None for products outside the filter (not offers)."""
    try:
        product = json.loads(entry) if isinstance(entry, str) else entry
        attrs = obj(obj(obj(product).get("product")).get("attributes"))
        if any(attrs.get(k, v) != v for k, v in FILTERS.items() if k != "instanceFamily"):
            return None
        instance_type = str(attrs.get("instanceType") or "")
        region = str(attrs.get("regionCode") or "")
        if "." not in instance_type or not region:
            return RejectedRow("malformed_row")
        family = FAMILIES.get(instance_type.split(".", 1)[0])
        if family is None:
            return RejectedRow("unknown_gpu", raw_gpu=instance_type)
        memory = str(attrs.get("memory") or "").split(" ", 1)[0].replace(",", "")
        return RawOffer(
            provider="aws",
            instance_type=instance_type,
            region=region,
            gpu_name=family.gpu_name,
            gpu_count=positive(attrs.get("gpu")),
            gpu_memory_gb=family.memory_gb,
            vcpus=positive(attrs.get("vcpu")),
            ram_gb=positive(memory),
            price_per_hour=_on_demand_usd(obj(obj(product).get("terms"))),
            source="aws-pricing-api",
        )
    except json.JSONDecodeError:
        return RejectedRow("malformed_row")
    except RejectedRow as rejected:
        return rejected


class AwsPricingSource(ApiSource):
    provider = "aws"
    default_base_url = DEFAULT_BASE_URL

    def _aws_credentials(self) -> Any:
        import botocore.session
        from botocore.credentials import Credentials as BotoCredentials

        given = self._credentials.values() if self._credentials is not None else {}
        if given.get("aws_access_key_id") and given.get("aws_secret_access_key"):
            return BotoCredentials(
                given["aws_access_key_id"], given["aws_secret_access_key"], given.get("aws_session_token")
            )
        found = botocore.session.get_session().get_credentials()
        if found is None:
            raise SourceError("aws: no AWS credentials to sign the Price List request")
        return found

    def _page(self, credentials: Any, token: str | None) -> Mapping[str, Any]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        body: dict[str, Any] = {
            "ServiceCode": "AmazonEC2",
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
            "Filters": [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in FILTERS.items()],
        }
        if token:
            body["NextToken"] = token
        data = json.dumps(body).encode()
        url = join(self._base, "/")
        request = AWSRequest(
            method="POST",
            url=url,
            data=data,
            headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET},
        )
        SigV4Auth(credentials, "pricing", SIGNING_REGION).add_auth(request)
        answer = self._http.request_json("POST", url, headers=dict(request.headers.items()), data=data)
        return expect_dict(answer, provider=self.provider, what="answer")

    def pages(self) -> Iterator[Mapping[str, Any]]:
        credentials = self._aws_credentials()
        token: str | None = None
        for _ in range(MAX_PAGES):
            page = self._page(credentials, token)
            yield page
            token = page.get("NextToken") or None
            if token is None:
                return
        raise SourceError(f"aws: more than {MAX_PAGES} pages")

    def rows(self) -> Iterator[RawOffer | RejectedRow]:
        for page in self.pages():
            for entry in expect_list(page.get("PriceList"), provider=self.provider, what="PriceList"):
                row = parse_product(entry)
                if row is not None:
                    yield row
