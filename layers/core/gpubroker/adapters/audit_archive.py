"""Checkpoints published outside the audit table: one object per checkpoint in an S3 bucket with Object Lock.

Key ``checkpoints/<shard:04d>/<10**20 - 1 - size:020d>-<size>.json``: key order is newest first, so the newest
checkpoints of a shard are the first page of a plain listing (no ``KeyMarker``, which moto 5.2 mishandles: it
drops the first version after the marker). Body: the checkpoint, its signature (base64) and key id, as JSON.

The bucket (template.yaml ``AuditCheckpointBucket``) is versioned with Object Lock and a default retention in
COMPLIANCE mode: within the retention period no principal, the account's root included, can delete an object
version or shorten its retention. A plain DELETE only adds a deletion marker,
and a PUT to the same key only adds a version: :meth:`S3CheckpointArchive.versions_from` lists versions, so
neither hides a published checkpoint.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from gpubroker.adapters.aws import client
from gpubroker.domain.audit import ArchivedCheckpoint, Checkpoint, SignedCheckpoint

PREFIX = "checkpoints/"
_TOP = 10**20 - 1


def archive_key(shard: int, size: int) -> str:
    return f"{PREFIX}{shard:04d}/{_TOP - size:020d}-{size}.json"


def _key_size(key: str) -> int:
    """The size a key names (-1 for a key that is not a checkpoint's)."""
    name = key.rsplit("/", 1)[-1].removesuffix(".json")
    inverted, _, size = name.partition("-")
    try:
        return int(size) if int(inverted) == _TOP - int(size) else -1
    except ValueError:
        return -1


def checkpoint_body(signed: SignedCheckpoint) -> bytes:
    cp = signed.checkpoint
    body: dict[str, Any] = {
        "shard": cp.shard,
        "size": cp.size,
        "head": cp.head,
        "time": cp.time,
        "prev": cp.prev,
        "signature": base64.b64encode(signed.signature).decode("ascii"),
        "key_id": signed.key_id,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def parse_body(raw: bytes) -> SignedCheckpoint | None:
    """A stored object back as a checkpoint, or None when it is not one (its signature is checked by the caller)."""
    try:
        d = json.loads(raw)
        prev = d["prev"]
        cp = Checkpoint(shard=d["shard"], size=d["size"], head=d["head"], time=d["time"], prev=prev)
        ok = all(type(v) is int for v in (cp.shard, cp.size)) and all(
            type(v) is str for v in (cp.head, cp.time, d["signature"], d["key_id"])
        )
        if not ok or not (prev is None or type(prev) is str):
            return None
        return SignedCheckpoint(cp, base64.b64decode(d["signature"], validate=True), d["key_id"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


class S3CheckpointArchive:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def publish(self, signed: SignedCheckpoint) -> None:
        """Write the checkpoint's object; the bucket's default retention locks it. A checksum is sent because S3
        refuses an upload to an Object Lock bucket without one (Content-MD5 or a checksum algorithm)."""
        cp = signed.checkpoint
        client("s3").put_object(
            Bucket=self.bucket,
            Key=archive_key(cp.shard, cp.size),
            Body=checkpoint_body(signed),
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
        )

    def versions_from(self, shard: int, size: int, limit: int = 20) -> list[ArchivedCheckpoint]:
        """Versions of the checkpoints of size >= ``size``: the first page of the shard's listing (newest first),
        read up to the first key below ``size``."""
        s3 = client("s3")
        resp = s3.list_object_versions(Bucket=self.bucket, Prefix=f"{PREFIX}{shard:04d}/", MaxKeys=limit)
        out: list[ArchivedCheckpoint] = []
        for version in resp.get("Versions") or []:
            key = str(version["Key"])
            key_size = _key_size(key)
            if key_size < size:
                if key_size >= 0:
                    break  # newest first: every further key is older still
                continue
            raw = s3.get_object(Bucket=self.bucket, Key=key, VersionId=version["VersionId"])["Body"].read()
            out.append(ArchivedCheckpoint(key_size, parse_body(raw)))
        return sorted(out, key=lambda a: a.size)
