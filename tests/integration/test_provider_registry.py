"""A catalog-only provider through the real adapters and default wiring against S3/DynamoDB on an endpoint: ingested
from a catalog under a new name, registered beside its part in S3, listed, searchable, removed (issue 10 part 2)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gpubroker.adapters.s3_snapshots import S3SnapshotStore
from tests.conftest import CATALOGS
from tests.events import Ctx, rest_event
from tests.integration.conftest import Endpoint, fresh_handler

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("aws")]


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = fresh_handler("ingest_offers").lambda_handler(event, Ctx())
    return answer


def get(module: str, resource: str, path: str, query: dict[str, list[str]] | None = None) -> tuple[int, Any]:
    res = fresh_handler(module).lambda_handler(rest_event(resource, path, query), Ctx())
    return int(res["statusCode"]), json.loads(res["body"])


def test_s3_store_keeps_registrations_beside_parts(endpoint: Endpoint) -> None:
    store = S3SnapshotStore(endpoint.names["SnapshotBucket"])
    store.register("it-cloud", {"display_name": "IT Cloud", "website": None, "marketplace": False})
    store.put_part("it-cloud", [])
    assert store.registrations()["it-cloud"]["display_name"] == "IT Cloud"
    store.remove("it-cloud")
    store.remove("it-cloud")  # absent: no error
    assert "it-cloud" not in store.registrations() and "it-cloud" not in store.parts()


def test_a_catalog_only_provider_end_to_end(endpoint: Endpoint) -> None:
    report = invoke({"provider": "lambda-mirror", "catalog": str(CATALOGS / "lambda" / "vms.csv"),
                     "display_name": "Lambda Mirror", "website": "https://example.com"})  # fmt: skip
    assert report["status"] == "ok" and report["accepted"] > 0, report
    status, providers = get("api_list_providers", "/providers", "/providers")
    listed = {p["name"]: p for p in providers["items"]}
    assert status == 200 and listed["lambda-mirror"]["offers"] == report["accepted"]
    assert listed["lambda-mirror"]["display_name"] == "Lambda Mirror" and listed["lambda-mirror"]["builtin"] is False
    status, page = get("api_list_offers", "/offers", "/offers", {"provider": ["lambda-mirror"], "limit": ["1"]})
    assert status == 200 and page["count"] == report["accepted"] and page["items"][0]["provider"] == "lambda-mirror"

    removal = invoke({"provider": "lambda-mirror", "action": "remove"})
    assert removal["status"] == "removed" and removal["marked_unavailable"] == report["accepted"]
    status, providers = get("api_list_providers", "/providers", "/providers")
    assert "lambda-mirror" not in {p["name"] for p in providers["items"]}
    status, refused = get("api_list_offers", "/offers", "/offers", {"provider": ["lambda-mirror"]})
    assert (status, refused["error"]["code"]) == (422, "validation_error")
