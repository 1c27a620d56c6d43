"""Audit log use cases: sign checkpoints, verify the whole log, page through entries.

Ports: ``AuditLog`` and ``CheckpointSigner`` (DynamoAuditLog / KmsCheckpointSigner in production, MemoryAuditLog /
LocalSigner in tests).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import TYPE_CHECKING

from gpubroker.domain.audit import (
    AuditEntry,
    AuditTampered,
    Checkpoint,
    SignedCheckpoint,
    VerifyResult,
    checkpoint_message,
    utc_iso,
    verify_extension,
    verify_shard,
)
from gpubroker.domain.errors import InvalidCursor
from gpubroker.ports import AuditLog, AuditSpool, CheckpointSigner

if TYPE_CHECKING:  # built on first use: only the two admin routes read the log (domain/audit_reports.py)
    from gpubroker.domain.audit_reports import AuditVerifyReport, EntryPage

MAX_PAGE = 1000
_PAGE = 500


def _entries_after(log: AuditLog, shard: int, after_seq: int | None) -> list[AuditEntry]:
    out: list[AuditEntry] = []
    while True:
        page = log.entries(shard, after_seq=after_seq, limit=_PAGE)
        out.extend(page)
        if len(page) < _PAGE:
            return out
        after_seq = page[-1].seq


def _signature_ok(signer: CheckpointSigner, signed: SignedCheckpoint) -> bool:
    return signer.verify(checkpoint_message(signed.checkpoint), signed.signature)


SPOOL_FIELDS = ("ts", "actor", "action", "resource", "request_id", "outcome")
MAX_REPLAY_FAILURES = 10


def replay_spooled(log: AuditLog, spool: AuditSpool, *, limit: int = 500) -> int:
    """Append the entries waiting in ``spool`` (appends that failed at request time), with their original time,
    then remove them from the spool; at most ``limit`` per run. An entry whose append fails again stays spooled
    (it is seen again after the spool's visibility timeout); after ``MAX_REPLAY_FAILURES`` such failures the run
    stops replaying (the log is likely unavailable). A message that is not an entry is dropped, with an error log.
    Returns the number appended."""
    from gpubroker.observability import logger

    appended = failed = 0
    while appended < limit and failed < MAX_REPLAY_FAILURES:
        batch = spool.take(min(10, limit - appended))
        if not batch:
            break
        for entry, receipt in batch:
            if not isinstance(entry, dict) or any(not isinstance(entry.get(k), str) for k in SPOOL_FIELDS):
                logger.error("audit spool: not an entry, dropped", extra={"spooled": entry})
                spool.done(receipt)
                continue
            try:
                log.append(**{k: entry[k] for k in SPOOL_FIELDS})
            except Exception:
                logger.exception("audit spool: append failed again, left spooled", extra={"audit_entry": entry})
                failed += 1
                continue
            spool.done(receipt)
            appended += 1
    return appended


def write_checkpoints(log: AuditLog, signer: CheckpointSigner, now: datetime) -> list[SignedCheckpoint]:
    """Sign ``(shard, size, head, time)`` for every shard that has entries not yet covered by a checkpoint.

    Before signing, the entries appended since the shard's last checkpoint are verified to extend it (its
    signature checked, seqs contiguous, chained to its head), so a tampered tail is never blessed; the cost is
    O(new entries). Raises :class:`AuditTampered` (nothing is signed for that shard or later ones).
    Returns the checkpoints written.
    """
    written: list[SignedCheckpoint] = []
    stamp = utc_iso(now)
    for shard in range(log.shards):
        latest = log.latest_checkpoint(shard)
        if latest is None:
            entries = log.all_entries(shard)
            result = verify_shard(entries, None, True, shard=shard)
        else:
            if not _signature_ok(signer, latest):
                raise AuditTampered(f"shard {shard}: the stored checkpoint's signature is invalid", details=shard)
            anchor = latest.checkpoint
            entries = _entries_after(log, shard, anchor.size - 1 if anchor.size else None)
            result = verify_extension(entries, anchor)
            if result.ok and not entries:
                head = log.head(shard)
                if head is None or head.seq + 1 != anchor.size or head.hash != anchor.head:
                    result = VerifyResult(
                        False, None if head is None else head.seq, "shard no longer ends at its checkpoint"
                    )
        if not result.ok:
            raise AuditTampered(
                f"shard {shard}: {result.reason} (seq {result.first_broken_seq})",
                details={"shard": shard, "first_broken_seq": result.first_broken_seq},
            )
        if not entries:
            continue
        cp = Checkpoint(shard=shard, size=entries[-1].seq + 1, head=entries[-1].hash, time=stamp)
        signed = SignedCheckpoint(cp, signer.sign(checkpoint_message(cp)), signer.key_id)
        if log.put_checkpoint(signed):
            written.append(signed)
    return written


def verify_log(log: AuditLog, signer: CheckpointSigner) -> AuditVerifyReport:
    """Verify every shard against its newest checkpoint. ``first_broken_seq`` / ``first_broken_shard`` name the
    lowest-numbered broken shard's first bad seq (seqs of different shards are not comparable)."""
    from gpubroker.domain.audit_reports import AuditVerifyReport, ShardReport

    shards: list[ShardReport] = []
    first: ShardReport | None = None
    for shard in range(log.shards):
        entries = log.all_entries(shard)
        latest = log.latest_checkpoint(shard)
        sig_ok = True if latest is None else _signature_ok(signer, latest)
        result = verify_shard(entries, None if latest is None else latest.checkpoint, sig_ok, shard=shard)
        row = ShardReport(
            shard=shard,
            ok=result.ok,
            size=len(entries),
            checkpoint_size=None if latest is None else latest.checkpoint.size,
            first_broken_seq=result.first_broken_seq,
            reason=result.reason,
        )
        shards.append(row)
        if not result.ok and first is None:
            first = row
    return AuditVerifyReport(
        ok=first is None,
        shards=shards,
        first_broken_seq=None if first is None else first.first_broken_seq,
        first_broken_shard=None if first is None else first.shard,
    )


_MAX_SEQ = 2**63 - 1  # a shard's sequence number; past it a cursor is forged (DynamoDB numbers stop at 38 digits)


def _encode_cursor(shard: int, after_seq: int | None) -> str:
    raw = json.dumps({"s": shard, "a": after_seq}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str, shards: int) -> tuple[int, int | None]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        shard, after = data["s"], data["a"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise InvalidCursor("invalid cursor") from exc
    ok_shard = isinstance(shard, int) and not isinstance(shard, bool) and 0 <= shard < shards
    ok_after = after is None or (isinstance(after, int) and not isinstance(after, bool) and 0 <= after <= _MAX_SEQ)
    if not (ok_shard and ok_after):
        raise InvalidCursor("invalid cursor")
    return shard, after


def list_entries(log: AuditLog, limit: int = 100, cursor: str | None = None) -> EntryPage:
    """One page of entries, shard 0 first then by seq. The cursor is opaque (base64url of the position); ``None``
    when every shard has been read."""
    from gpubroker.domain.audit_reports import EntryPage

    limit = max(1, min(limit, MAX_PAGE))
    shard, after = (0, None) if cursor is None else _decode_cursor(cursor, log.shards)
    items: list[AuditEntry] = []
    while len(items) < limit and shard < log.shards:
        want = limit - len(items)
        page = log.entries(shard, after_seq=after, limit=want)
        items.extend(page)
        if len(page) < want:
            shard, after = shard + 1, None
        else:
            after = page[-1].seq
    next_cursor = None if shard >= log.shards else _encode_cursor(shard, after)
    return EntryPage(items=items, next_cursor=next_cursor)
