"""Offer snapshots in S3.

Keys: ``parts/<provider>.json`` (that provider's offers after its last good run), ``providers/<provider>.json``
(a catalog-only provider's registration: display name, website, marketplace), ``snapshots/<version>.npz``
(immutable, kept for pinned cursors; a lifecycle rule expires them), ``snapshots/latest.json`` (the manifest:
latest version, counts and per-provider freshness). The manifest is written last, so a reader never sees a
version whose data is not there yet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from gpubroker.adapters.aws import client

_MANIFEST = "snapshots/latest.json"


class S3SnapshotStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    @property
    def _s3(self) -> Any:
        return client("s3")

    def _get(self, key: str) -> bytes | None:
        try:
            body: bytes = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            return None
        return body

    def manifest(self) -> dict[str, Any] | None:
        raw = self._get(_MANIFEST)
        return json.loads(raw) if raw else None

    def load(self, version: str) -> bytes | None:
        return self._get(f"snapshots/{version}.npz")

    def put_part(self, provider: str, records: Sequence[Mapping[str, Any]]) -> None:
        body = json.dumps(list(records), separators=(",", ":")).encode()
        self._s3.put_object(Bucket=self.bucket, Key=f"parts/{provider}.json", Body=body, ContentType="application/json")

    def parts(self) -> dict[str, list[dict[str, Any]]]:
        return self._objects("parts/")

    def _objects(self, prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                raw = self._get(obj["Key"])
                if raw is not None:
                    out[obj["Key"].removeprefix(prefix).removesuffix(".json")] = json.loads(raw)
        return out

    def register(self, provider: str, info: Mapping[str, Any]) -> None:
        body = json.dumps(dict(info), separators=(",", ":")).encode()
        self._s3.put_object(
            Bucket=self.bucket, Key=f"providers/{provider}.json", Body=body, ContentType="application/json"
        )

    def registrations(self) -> dict[str, dict[str, Any]]:
        return self._objects("providers/")

    def remove(self, provider: str) -> None:
        for key in (f"parts/{provider}.json", f"providers/{provider}.json"):  # S3 deletes are idempotent
            self._s3.delete_object(Bucket=self.bucket, Key=key)

    def publish(self, version: str, data: bytes, manifest: Mapping[str, Any]) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=f"snapshots/{version}.npz", Body=data)
        self._s3.put_object(
            Bucket=self.bucket,
            Key=_MANIFEST,
            Body=json.dumps(manifest).encode(),
            ContentType="application/json",
            CacheControl="no-cache",
        )
