"""``make deploy-web``'s upload (infra/web_deploy.py): the build under app/ with the types and cache headers
CloudFront passes on, the build's manifest left out."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from infra.web_deploy import IMMUTABLE, upload


@mock_aws
def test_the_build_goes_under_app_with_its_types_and_cache_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the integration tier's moto server sets AWS_ENDPOINT_URL for its session, and `make test` runs the tiers in the
    # same workers: boto3 would send this test's calls there (past mock_aws) and the unit tier blocks sockets
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / ".vite").mkdir()
    (dist / "index.html").write_text("<!doctype html>")
    (dist / "assets" / "index-abc.js").write_text("1")
    (dist / "assets" / "index-abc.css").write_text("a{}")
    (dist / ".vite" / "manifest.json").write_text("{}")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="web")

    assert upload("web", "us-east-1", dist) == 3
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="web")["Contents"])
    assert keys == ["app/assets/index-abc.css", "app/assets/index-abc.js", "app/index.html"]
    heads = {k: s3.head_object(Bucket="web", Key=k) for k in keys}
    assert heads["app/index.html"]["ContentType"] == "text/html"
    assert heads["app/index.html"]["CacheControl"] == "no-cache"  # a new build shows on the next load
    assert heads["app/assets/index-abc.js"]["ContentType"] in {"text/javascript", "application/javascript"}
    assert heads["app/assets/index-abc.css"]["ContentType"] == "text/css"
    assert {heads[k]["CacheControl"] for k in keys if "/assets/" in k} == {IMMUTABLE}
