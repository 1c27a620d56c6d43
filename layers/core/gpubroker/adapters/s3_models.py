"""Trained model artifacts in S3: ``models/<name>.npz`` and ``models/<name>.json`` (manifest, written last)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gpubroker.adapters.aws import client


class S3ModelStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def save(self, name: str, data: bytes, manifest: Mapping[str, Any]) -> None:
        s3 = client("s3")
        s3.put_object(Bucket=self.bucket, Key=f"models/{name}.npz", Body=data)
        s3.put_object(Bucket=self.bucket, Key=f"models/{name}.json", Body=json.dumps(dict(manifest)).encode())

    def load(self, name: str) -> bytes | None:
        s3 = client("s3")
        try:
            body: bytes = s3.get_object(Bucket=self.bucket, Key=f"models/{name}.npz")["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None
        return body
