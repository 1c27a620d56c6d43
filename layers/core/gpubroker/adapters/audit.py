"""The audit log in DynamoDB and checkpoint signing with a KMS asymmetric key.

Table key schema: ``pk`` (S, HASH), ``seq`` (N, RANGE).

- entries: ``pk = "shard#<n>"``, ``seq = <0, 1, 2, ...>``, attributes ``shard ts actor action resource request_id
  outcome prev_hash hash``. Items are written once (``attribute_not_exists(pk)``) and never updated.
- the rolling verification's marker: ``pk = "sweep"``, ``seq = 0``, attribute ``cursor`` (overwritten each run).
- checkpoints: ``pk = "checkpoint#<n>"``, ``seq = <size>``, attributes ``shard head time signature`` (base64)
  ``key_id`` and ``prev`` (the previous checkpoint's digest; absent on a v1 checkpoint).

Appending is "read the shard's last entry, conditionally put the next sequence slot": the slot can be claimed
once, so concurrent writers never fork the chain or overwrite one another; a loser re-reads the head, rehashes and
retries after a short jittered backoff.
"""

from __future__ import annotations

import base64
import random
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from gpubroker.adapters.aws import client, conditional_check_failed
from gpubroker.domain.audit import (
    AUDIT_SHARDS,
    AuditContention,
    AuditEntry,
    Checkpoint,
    EntryFilter,
    EntrySearch,
    SignedCheckpoint,
    next_entry,
    shard_for,
    stamp,
)

_STR_FIELDS = ("ts", "actor", "action", "resource", "request_id", "outcome", "prev_hash", "hash")
_PAGE = 500


def _entry_pk(shard: int) -> str:
    return f"shard#{shard}"


def _checkpoint_pk(shard: int) -> str:
    return f"checkpoint#{shard}"


def entry_to_item(entry: AuditEntry) -> dict[str, Any]:
    """Low-level (typed) DynamoDB item for an entry."""
    item: dict[str, Any] = {
        "pk": {"S": _entry_pk(entry.shard)},
        "seq": {"N": str(entry.seq)},
        "shard": {"N": str(entry.shard)},
    }
    for name in _STR_FIELDS:
        item[name] = {"S": getattr(entry, name)}
    return item


def stored_int(value: Any) -> int:
    """A stored number as it is, or -1 when it is not an integer (DynamoDB allows ``1.5`` in a sort key: a forged
    item must reach the verifier as a fault, not crash it)."""
    try:
        return int(str(value))
    except ValueError:
        return -1


def entry_from_item(item: Mapping[str, Any]) -> AuditEntry:
    """Read back exactly what is stored (no validation: a tampered item must reach the verifier as it is)."""

    def s(name: str) -> str:
        return str(item[name]["S"]) if name in item and "S" in item[name] else ""

    shard = stored_int(item["shard"]["N"]) if "shard" in item else stored_int(str(item["pk"]["S"]).split("#", 1)[1])
    return AuditEntry(
        shard=shard,
        seq=stored_int(item["seq"]["N"]),
        ts=s("ts"),
        actor=s("actor"),
        action=s("action"),
        resource=s("resource"),
        request_id=s("request_id"),
        outcome=s("outcome"),
        prev_hash=s("prev_hash"),
        hash=s("hash"),
    )


class DynamoAuditLog:
    """An append-only, sharded, hash-chained audit log in one DynamoDB table (thread-safe: low-level client)."""

    def __init__(
        self, table_name: str, shards: int = AUDIT_SHARDS, *, max_attempts: int = 60, backoff_cap_s: float = 0.1
    ) -> None:
        if shards < 1:
            raise ValueError("shards must be >= 1")
        self.table_name = table_name
        self.shards = shards
        self.max_attempts = max_attempts
        self.backoff_cap_s = backoff_cap_s
        self.conflicts = 0  # lost races so far: a contention metric
        self._conflicts_lock = threading.Lock()

    def shard_of(self, resource: str) -> int:
        return shard_for(resource, self.shards)

    def append(  # noqa: PLR0917 - the audit record's fields, in the order they are read aloud
        self,
        actor: str,
        action: str,
        resource: str,
        request_id: str,
        outcome: str,
        ts: str | datetime | None = None,
    ) -> AuditEntry:
        """Append one entry to ``resource``'s shard; returns it with its seq and hash. Raises
        :class:`AuditContention` after ``max_attempts`` lost races."""
        when = stamp(ts)
        shard = self.shard_of(resource)
        ddb = client("dynamodb")
        for attempt in range(self.max_attempts):
            entry = next_entry(self.head(shard), shard, when, actor, action, resource, request_id, outcome)
            try:
                ddb.put_item(
                    TableName=self.table_name,
                    Item=entry_to_item(entry),
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as exc:
                if not conditional_check_failed(exc):
                    raise
                with self._conflicts_lock:
                    self.conflicts += 1
                time.sleep(random.uniform(0, min(self.backoff_cap_s, 0.002 * 2**attempt)))
                continue
            return entry
        raise AuditContention(f"audit shard {shard}: no free sequence slot after {self.max_attempts} attempts")

    def head(self, shard: int) -> AuditEntry | None:
        """The shard's last entry (strongly consistent), or None when the shard is empty."""
        item = self._newest(_entry_pk(shard))
        return entry_from_item(item) if item is not None else None

    def _newest(self, pk: str) -> dict[str, Any] | None:
        """The item of partition ``pk`` with the highest sort key (strongly consistent), or None."""
        resp = client("dynamodb").query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items: list[dict[str, Any]] = resp.get("Items") or []
        return items[0] if items else None

    def _shard_query(self, shard: int, after_seq: int | None, values: dict[str, Any]) -> dict[str, Any]:
        """A consistent Query of ``shard``'s entries with seq > ``after_seq`` (all of them when None); ``values``
        are the filter's own expression values, to which the key condition's are added."""
        values[":pk"] = {"S": _entry_pk(shard)}
        condition = "pk = :pk"
        if after_seq is not None:
            condition += " AND seq > :after"
            values[":after"] = {"N": str(after_seq)}
        return {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }

    def entries(self, shard: int, *, after_seq: int | None = None, limit: int = 100) -> list[AuditEntry]:
        """Up to ``limit`` entries of ``shard`` with seq > ``after_seq``, in seq order (fewer means the end)."""
        if limit < 1:
            return []
        kwargs = self._shard_query(shard, after_seq, {})
        out: list[AuditEntry] = []
        ddb = client("dynamodb")
        while len(out) < limit:
            resp = ddb.query(**kwargs, Limit=limit - len(out))
            out.extend(entry_from_item(i) for i in resp.get("Items") or [])
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return out

    def all_entries(self, shard: int) -> list[AuditEntry]:
        out: list[AuditEntry] = []
        after: int | None = None
        while True:
            page = self.entries(shard, after_seq=after, limit=_PAGE)
            out.extend(page)
            if len(page) < _PAGE:
                return out
            after = page[-1].seq

    def search(
        self, shard: int, where: EntryFilter, *, after_seq: int | None = None, limit: int = 100, budget: int = 5000
    ) -> EntrySearch:
        """The entries of ``shard`` after ``after_seq`` that ``where`` matches: a Query of the shard's key range with
        ``where`` as its FilterExpression (DynamoDB filters after reading: ``Limit`` bounds the entries read, not the
        ones returned, so ``budget`` bounds the cost of one call whatever the filter matches)."""
        filter_expr, names, values = filter_expression(where)
        kwargs = self._shard_query(shard, after_seq, values)
        if filter_expr:
            kwargs["FilterExpression"] = filter_expr
            kwargs["ExpressionAttributeNames"] = names
        out: list[AuditEntry] = []
        read = 0
        ddb = client("dynamodb")
        while True:
            resp = ddb.query(**kwargs, Limit=max(1, min(budget - read, 1000)))
            read += int(resp.get("ScannedCount", 0))
            for item in resp.get("Items") or []:
                out.append(entry_from_item(item))
                if len(out) == limit:  # go on after the last one returned: the rest of this read is read again
                    return EntrySearch(out, out[-1].seq, False, read)
            last = resp.get("LastEvaluatedKey")
            if last is None:
                return EntrySearch(out, out[-1].seq if out else after_seq, True, read)
            kwargs["ExclusiveStartKey"] = last
            if read >= budget:
                return EntrySearch(out, stored_int(last["seq"]["N"]), False, read)

    def put_checkpoint(self, signed: SignedCheckpoint) -> bool:
        """Store a signed checkpoint once; False when one of the same size already exists (nothing is replaced)."""
        cp = signed.checkpoint
        item = {
            "pk": {"S": _checkpoint_pk(cp.shard)},
            "seq": {"N": str(cp.size)},
            "shard": {"N": str(cp.shard)},
            "head": {"S": cp.head},
            "time": {"S": cp.time},
            "signature": {"S": base64.b64encode(signed.signature).decode("ascii")},
            "key_id": {"S": signed.key_id},
        }
        if cp.prev is not None:
            item["prev"] = {"S": cp.prev}
        try:
            client("dynamodb").put_item(
                TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if conditional_check_failed(exc):
                return False
            raise
        return True

    def latest_checkpoint(self, shard: int) -> SignedCheckpoint | None:
        newest = self.recent_checkpoints(shard, 1)
        return newest[0] if newest else None

    def recent_checkpoints(self, shard: int, n: int = 2) -> list[SignedCheckpoint]:
        """The ``n`` newest checkpoints of ``shard``, newest first (one strongly consistent Query)."""
        resp = client("dynamodb").query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": _checkpoint_pk(shard)}},
            ScanIndexForward=False,
            Limit=n,
            ConsistentRead=True,
        )
        return [checkpoint_from_item(shard, i) for i in resp.get("Items") or []]

    def checkpoints(self, shard: int, *, after_size: int, upto_size: int, limit: int = 1000) -> list[SignedCheckpoint]:
        """The checkpoints with ``after_size < size <= upto_size``, smallest first, at most ``limit``."""
        if upto_size <= after_size or limit < 1:
            return []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND seq BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": {"S": _checkpoint_pk(shard)},
                ":lo": {"N": str(after_size + 1)},
                ":hi": {"N": str(upto_size)},
            },
            "ConsistentRead": True,
        }
        out: list[SignedCheckpoint] = []
        ddb = client("dynamodb")
        while len(out) < limit:
            resp = ddb.query(**kwargs, Limit=limit - len(out))
            out.extend(checkpoint_from_item(shard, i) for i in resp.get("Items") or [])
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return out


def filter_expression(where: EntryFilter) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``where`` as a DynamoDB FilterExpression with its names and values (every attribute through a name: ACTION
    is a reserved word). The same semantics as :meth:`EntryFilter.matches` (a test runs both over the same log)."""
    parts: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for field in ("actor", "resource", "request_id"):
        wanted = getattr(where, field)
        if wanted is not None:
            names[f"#{field}"] = field
            values[f":{field}"] = {"S": wanted}
            parts.append(f"#{field} = :{field}")
    for field, separator in (("action", "."), ("outcome", ":")):
        wanted = getattr(where, field)
        if wanted is not None:
            names[f"#{field}"] = field
            values[f":{field}"] = {"S": wanted}
            values[f":{field}_family"] = {"S": wanted + separator}
            parts.append(f"(#{field} = :{field} OR begins_with(#{field}, :{field}_family))")
    if where.since is not None or where.until is not None:
        names["#ts"] = "ts"
    if where.since is not None:
        values[":since"] = {"S": where.since}
        parts.append("#ts >= :since")
    if where.until is not None:
        values[":until"] = {"S": where.until}
        parts.append("#ts < :until")
    return " AND ".join(parts), names, values


class DynamoVerifyMarker:
    """The checkpoint function's verified-through marker, one item of the audit table (``pk = "sweep"``)."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def load_marker(self) -> str | None:
        resp = client("dynamodb").query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "sweep"}},
            ConsistentRead=True,
        )
        items = resp.get("Items") or []
        return str(items[0]["cursor"]["S"]) if items and "S" in items[0].get("cursor", {}) else None

    def save_marker(self, cursor: str | None) -> None:
        item: dict[str, Any] = {"pk": {"S": "sweep"}, "seq": {"N": "0"}}
        if cursor is not None:
            item["cursor"] = {"S": cursor}
        client("dynamodb").put_item(TableName=self.table_name, Item=item)


def checkpoint_from_item(shard: int, item: Mapping[str, Any]) -> SignedCheckpoint:
    """A stored checkpoint as it is (a malformed one reads as empty fields, whose signature then fails)."""

    def s(name: str) -> str:
        return str(item[name]["S"]) if name in item and "S" in item[name] else ""

    prev = s("prev") if "prev" in item else None
    cp = Checkpoint(shard=shard, size=stored_int(item["seq"]["N"]), head=s("head"), time=s("time"), prev=prev)
    try:
        signature = base64.b64decode(s("signature"), validate=True)
    except ValueError:
        signature = b""
    return SignedCheckpoint(cp, signature, s("key_id"))


class KmsCheckpointSigner:
    """Signs checkpoint messages with a KMS asymmetric key (``SIGN_VERIFY``; the private key never leaves KMS, so
    whoever can write the table cannot forge a checkpoint). ``MessageType=RAW``: KMS hashes the message itself
    (at most 4096 bytes; a checkpoint message is about 150). Defaults suit ``KeySpec=ECC_NIST_P256``; pass
    ``RSASSA_PSS_SHA_256`` for an ``RSA_2048`` key."""

    def __init__(self, key_id: str, signing_algorithm: str = "ECDSA_SHA_256") -> None:
        self.key_id = key_id
        self.signing_algorithm = signing_algorithm

    def sign(self, message: bytes) -> bytes:
        resp = client("kms").sign(
            KeyId=self.key_id, Message=message, MessageType="RAW", SigningAlgorithm=self.signing_algorithm
        )
        return bytes(resp["Signature"])

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True only for a valid signature by this signer's key (a key id stored with a checkpoint is never
        trusted: the verifier's own configured key is the trust anchor)."""
        if not signature:
            return False
        try:
            resp = client("kms").verify(
                KeyId=self.key_id,
                Message=message,
                MessageType="RAW",
                Signature=signature,
                SigningAlgorithm=self.signing_algorithm,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "KMSInvalidSignatureException":
                return False
            raise
        return bool(resp.get("SignatureValid"))
