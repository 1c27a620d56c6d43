"""Audit log use cases: sign and publish checkpoints, verify the log (incrementally or from genesis), page through
entries.

Ports: ``AuditLog``, ``CheckpointSigner`` and ``CheckpointArchive`` (DynamoAuditLog / KmsCheckpointSigner /
S3CheckpointArchive in production, MemoryAuditLog / LocalSigner / MemoryArchive in tests).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from gpubroker.domain.audit import (
    GENESIS,
    AuditEntry,
    AuditTampered,
    ChainWalk,
    Checkpoint,
    EntryFilter,
    SignedCheckpoint,
    VerifyResult,
    boundary_fault,
    checkpoint_digest,
    checkpoint_message,
    link_fault,
    shard_for,
    utc_iso,
    verify_extension,
    verify_shard,
)
from gpubroker.domain.errors import InvalidCursor
from gpubroker.ports import AuditLog, AuditSpool, CheckpointArchive, CheckpointSigner, VerifyMarker

if TYPE_CHECKING:  # built on first use: only the two admin routes read the log (domain/audit_reports.py)
    from gpubroker.domain.audit_reports import (
        AuditVerifyReport,
        EntryPage,
        ShardReport,
        VerifyMode,
        VerifyProgress,
    )

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


def _archive_fault(
    archive: CheckpointArchive, signer: CheckpointSigner, shard: int, newest: SignedCheckpoint | None
) -> tuple[bool | None, str | None]:
    """Compare the table's newest checkpoint of ``shard`` with the archive (S3 Object Lock): whether it is
    published, and what is wrong, if anything. The checkpoint function writes the table first and the archive
    second, so the archive can lag the table by one run but never lead it: an archived checkpoint past the table's
    newest means the table's newest checkpoints were deleted (or someone wrote into the bucket)."""
    size = newest.checkpoint.size if newest is not None else 0
    found = archive.versions_from(shard, size)
    published: bool | None = None if newest is None else False
    later = [a for a in found if a.size > size]
    for a in found:
        if newest is not None and a.size == size:
            if a.signed != newest:
                return published, f"the archive holds a different checkpoint at size {size} (written over?)"
            published = True
    if later:
        top = later[-1]
        if (
            top.signed is not None
            and top.signed.checkpoint.size == top.size
            and top.signed.checkpoint.shard == shard
            and _signature_ok(signer, top.signed)
        ):
            return published, (
                f"the table lacks the signed checkpoint of size {top.size} published in the archive: its newest"
                " checkpoint(s) were deleted"
            )
        return published, f"the archive holds a checkpoint object at size {top.size} that is not validly signed"
    return published, None


def _unsigned_entries(
    log: AuditLog, signer: CheckpointSigner, shard: int, recent: list[SignedCheckpoint]
) -> tuple[list[AuditEntry], VerifyResult, str]:
    """The entries after the shard's newest checkpoint (``recent``: its two newest), whether they extend it, and
    the ``prev`` of the next checkpoint. Raises :class:`AuditTampered` on a bad signature or link."""
    if not recent:
        entries = log.all_entries(shard)
        return entries, verify_shard(entries, None, True, shard=shard), GENESIS
    latest = recent[0]
    if not _signature_ok(signer, latest):
        raise AuditTampered(f"shard {shard}: the stored checkpoint's signature is invalid", details=shard)
    anchor = latest.checkpoint
    before = recent[1].checkpoint if len(recent) > 1 else None
    fault = link_fault(
        anchor,
        prev_size=0 if before is None else before.size,
        prev_digest=GENESIS if before is None else checkpoint_digest(before),
    )
    if fault is not None:
        raise AuditTampered(f"shard {shard}: {fault}", details={"shard": shard, "first_broken_seq": None})
    entries = _entries_after(log, shard, anchor.size - 1 if anchor.size else None)
    result = verify_extension(entries, anchor)
    if result.ok and not entries:
        head = log.head(shard)
        if head is None or head.seq + 1 != anchor.size or head.hash != anchor.head:
            result = VerifyResult(False, None if head is None else head.seq, "shard no longer ends at its checkpoint")
    return entries, result, checkpoint_digest(anchor)


def write_checkpoints(
    log: AuditLog, signer: CheckpointSigner, now: datetime, archive: CheckpointArchive | None = None
) -> list[SignedCheckpoint]:
    """Sign ``(shard, size, head, time, prev)`` for every shard that has entries not yet covered by a checkpoint;
    ``prev`` links it to the shard's previous checkpoint. Written to the table, then published to ``archive``.

    Before signing, the shard's last checkpoint is checked (its signature, its link to the one before it, and,
    with an archive, that the archive holds nothing newer: deleted newest checkpoints are not silently
    re-anchored), and the entries appended since are verified to extend it (seqs contiguous, chained to its head),
    so a tampered tail is never blessed; the cost is O(new entries). A checkpoint the archive is still missing
    (the previous run failed between its two writes) is published again. Raises :class:`AuditTampered` (nothing
    is signed for that shard or later ones). Returns the checkpoints written.
    """
    written: list[SignedCheckpoint] = []
    stamp = utc_iso(now)
    for shard in range(log.shards):
        recent = log.recent_checkpoints(shard, 2)
        latest = recent[0] if recent else None
        published: bool | None = None
        if archive is not None:
            published, fault = _archive_fault(archive, signer, shard, latest)
            if fault is not None:
                raise AuditTampered(f"shard {shard}: {fault}", details={"shard": shard, "first_broken_seq": None})
        entries, result, prev = _unsigned_entries(log, signer, shard, recent)
        if archive is not None and published is False and recent:
            archive.publish(recent[0])  # the previous run stopped between the table and the archive
        if not result.ok:
            raise AuditTampered(
                f"shard {shard}: {result.reason} (seq {result.first_broken_seq})",
                details={"shard": shard, "first_broken_seq": result.first_broken_seq},
            )
        if not entries:
            continue
        cp = Checkpoint(shard=shard, size=entries[-1].seq + 1, head=entries[-1].hash, time=stamp, prev=prev)
        signed = SignedCheckpoint(cp, signer.sign(checkpoint_message(cp)), signer.key_id)
        if log.put_checkpoint(signed):
            written.append(signed)
            if archive is not None:
                archive.publish(signed)
    return written


# ---- verification ---------------------------------------------------------------------------------------------

VERIFY_PAGE = 1000
"""Entries per read of the verifier (DynamoDB returns at most 1 MB per Query: about 3,000 entries)."""


@dataclass
class VerifyBudget:
    """How much one call may do: it stops before a page when fewer than ``reserve_ms`` remain
    (``time_left_ms``: Lambda's ``context.get_remaining_time_in_millis``) or after ``max_pages`` reads."""

    time_left_ms: Callable[[], int] | None = None
    reserve_ms: int = 5_000
    max_pages: int | None = None
    pages: int = 0
    entries: int = 0

    def spent(self) -> bool:
        if self.max_pages is not None and self.pages >= self.max_pages:
            return True
        return self.time_left_ms is not None and self.time_left_ms() < self.reserve_ms


@dataclass
class _ShardPass:
    """One shard's verification in progress (what a cursor carries)."""

    walk: ChainWalk
    verified_from: int
    checkpoint_size: int | None
    published: bool | None
    cp_size: int = 0
    cp_digest: str = GENESIS


def _row(
    log: AuditLog, state: _ShardPass, broken: int | None, reason: str | None, *, size: int | None = None
) -> ShardReport:
    from gpubroker.domain.audit_reports import ShardReport

    shard = state.walk.shard
    if size is None:
        head = log.head(shard)
        size = 0 if head is None else head.seq + 1
    through = state.walk.seq - 1 if state.walk.seq > state.verified_from else None
    return ShardReport(
        shard=shard,
        ok=broken is None and reason is None,
        size=size,
        checkpoint_size=state.checkpoint_size,
        first_broken_seq=broken,
        reason=reason,
        verified_from=state.verified_from,
        verified_through=through,
        published=state.published,
    )


def _start_shard(
    log: AuditLog, signer: CheckpointSigner, archive: CheckpointArchive | None, shard: int, mode: VerifyMode
) -> tuple[_ShardPass, ShardReport | None]:
    """Check the shard's newest checkpoint (signature, link, archive) and place the walk: after it
    (incremental, reading the one entry it signed) or at GENESIS (full). A report when the shard is already
    found broken."""
    recent = log.recent_checkpoints(shard, 2)
    newest = recent[0] if recent else None
    cp = None if newest is None else newest.checkpoint
    state = _ShardPass(ChainWalk(shard), 0, None if cp is None else cp.size, None)
    fault: str | None = None
    if newest is not None and cp is not None:
        before = recent[1].checkpoint if len(recent) > 1 else None
        if cp.shard != shard:
            fault = f"checkpoint is for shard {cp.shard}, not {shard}"
        elif not _signature_ok(signer, newest):
            fault = "the newest checkpoint's signature is invalid (edited or forged)"
        else:
            fault = link_fault(
                cp,
                prev_size=0 if before is None else before.size,
                prev_digest=GENESIS if before is None else checkpoint_digest(before),
            )
    if fault is None and archive is not None:
        state.published, fault = _archive_fault(archive, signer, shard, newest)
    if fault is not None:
        return state, _row(log, state, None, fault)
    if mode == "genesis" or cp is None or cp.size == 0:
        return state, None
    boundary = log.entries(shard, after_seq=cp.size - 2 if cp.size >= 2 else None, limit=1)
    fault = boundary_fault(boundary[0] if boundary else None, cp)
    state.verified_from = cp.size - 1
    if fault is not None:
        head = log.head(shard)
        size = 0 if head is None else head.seq + 1
        if size < cp.size:
            return state, _row(
                log, state, size, f"truncated: {size} entries, the checkpoint covers {cp.size}", size=size
            )
        return state, _row(log, state, cp.size - 1, fault, size=size)
    state.walk.seq, state.walk.prev = cp.size, cp.head
    return state, None


def _walk_shard(
    log: AuditLog, signer: CheckpointSigner, state: _ShardPass, mode: VerifyMode, budget: VerifyBudget
) -> ShardReport | None:
    """Read and verify pages until the shard ends (its report) or the budget is spent (None)."""
    walk = state.walk
    while not budget.spent():
        page = log.entries(walk.shard, after_seq=walk.seq - 1 if walk.seq else None, limit=VERIFY_PAGE)
        budget.pages += 1
        budget.entries += len(page)
        heads: dict[int, str] = {}
        if mode == "genesis" and page:
            fault = _link_checkpoints(log, state, upto=page[-1].seq + 1, heads=heads)
            if fault is not None:
                return _row(log, state, None, fault)
        broken, reason = walk.step(page, heads)
        if broken is not None:
            return _row(log, state, broken, reason)
        if len(page) < VERIFY_PAGE:
            return _finish_shard(log, signer, state, mode)
    return None


def _link_checkpoints(log: AuditLog, state: _ShardPass, *, upto: int, heads: dict[int, str]) -> str | None:
    """Full mode: follow the checkpoint chain up to size ``upto``, collecting each signed head to compare."""
    for signed in log.checkpoints(state.walk.shard, after_size=state.cp_size, upto_size=upto, limit=VERIFY_PAGE * 2):
        cp = signed.checkpoint
        fault = link_fault(cp, prev_size=state.cp_size, prev_digest=state.cp_digest)
        if fault is not None:
            return fault
        heads[cp.size] = cp.head
        state.cp_size, state.cp_digest = cp.size, checkpoint_digest(cp)
    return None


def _finish_shard(log: AuditLog, signer: CheckpointSigner, state: _ShardPass, mode: VerifyMode) -> ShardReport:
    size = state.walk.seq
    if mode == "genesis":
        beyond = log.checkpoints(state.walk.shard, after_size=state.cp_size, upto_size=2**63 - 1, limit=1)
        if beyond:
            covers = beyond[0].checkpoint.size
            return _row(log, state, size, f"truncated: {size} entries, a checkpoint covers {covers}", size=size)
        newest = log.latest_checkpoint(state.walk.shard)
        if newest is not None and (
            checkpoint_digest(newest.checkpoint) != state.cp_digest or not _signature_ok(signer, newest)
        ):
            return _row(log, state, None, "the checkpoint chain does not end at a validly signed checkpoint", size=size)
    return _row(log, state, None, None, size=size)


def _encode_progress(progress: VerifyProgress) -> str:
    return base64.urlsafe_b64encode(progress.model_dump_json().encode()).decode("ascii").rstrip("=")


def _decode_progress(cursor: str, shards: int) -> VerifyProgress:
    from pydantic import ValidationError

    from gpubroker.domain.audit_reports import VerifyProgress

    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        progress = VerifyProgress.model_validate_json(raw)
    except (binascii.Error, ValueError, ValidationError) as exc:
        raise InvalidCursor("invalid cursor") from exc
    if progress.shard >= shards or any(r.shard >= progress.shard for r in progress.done):
        raise InvalidCursor("invalid cursor")
    return progress


def verify_log(
    log: AuditLog,
    signer: CheckpointSigner,
    *,
    archive: CheckpointArchive | None = None,
    mode: VerifyMode = "incremental",
    cursor: str | None = None,
    budget: VerifyBudget | None = None,
) -> AuditVerifyReport:
    """Verify every shard, within ``budget``; a stopped verification answers ``complete=False`` and a
    ``next_cursor`` that goes on from where it stopped (its verified-through marker).

    Per shard, first its newest checkpoint: its signature (KMS), its link to the checkpoint before it, and, with
    an ``archive``, the archive's copies (a newer archived checkpoint than the table's newest: the table's newest
    were deleted). Then the entries:

    - ``incremental`` (default): only the entries after the newest checkpoint, chained from its head (plus the one
      entry it signed, read to check the boundary). Everything before it was verified by the checkpoint function
      before it signed (``write_checkpoints``): O(entries of the last 5 minutes).
    - ``genesis``: every entry from seq 0, each signed head compared on the way and every checkpoint's link
      followed (the one signature on the newest vouches for them all): finds an entry edited after it was
      checkpointed. A resumable job: call again with ``next_cursor`` until ``complete``.
    """
    from gpubroker.domain.audit_reports import AuditVerifyReport, VerifyProgress

    budget = budget or VerifyBudget()
    rows: list[ShardReport] = []
    state: _ShardPass | None = None
    first_shard = 0
    if cursor is not None:
        progress = _decode_progress(cursor, log.shards)
        mode, rows, first_shard = progress.mode, list(progress.done), progress.shard
        state = _ShardPass(
            ChainWalk(progress.shard, progress.seq, progress.prev),
            progress.verified_from,
            progress.checkpoint_size,
            progress.published,
            progress.cp_size,
            progress.cp_digest,
        )
    next_cursor: str | None = None
    for shard in range(first_shard, log.shards):
        row: ShardReport | None = None
        if state is None:
            state, row = _start_shard(log, signer, archive, shard, mode)
        if row is None:
            row = _walk_shard(log, signer, state, mode, budget)
        if row is None:
            w = state.walk
            next_cursor = _encode_progress(
                VerifyProgress(
                    mode=mode,
                    shard=shard,
                    seq=w.seq,
                    prev=w.prev,
                    verified_from=state.verified_from,
                    checkpoint_size=state.checkpoint_size,
                    published=state.published,
                    cp_size=state.cp_size,
                    cp_digest=state.cp_digest,
                    done=rows,
                )
            )
            break
        rows.append(row)
        state = None
    first = next((r for r in rows if not r.ok), None)
    complete = next_cursor is None
    return AuditVerifyReport(
        ok=complete and first is None,
        shards=rows,
        first_broken_seq=None if first is None else first.first_broken_seq,
        first_broken_shard=None if first is None else first.shard,
        mode=mode,
        complete=complete,
        next_cursor=next_cursor,
        entries_read=budget.entries,
    )


def sweep(
    log: AuditLog,
    signer: CheckpointSigner,
    marker: VerifyMarker,
    *,
    archive: CheckpointArchive | None = None,
    budget: VerifyBudget | None = None,
) -> AuditVerifyReport:
    """One slice of the rolling full verification (the checkpoint function runs one after signing): go on from the
    stored verified-through marker for ``budget``, store where it stopped (None once the cycle is complete: the
    next run starts again from genesis). Finds an entry edited after a checkpoint covered it, which the
    incremental ``GET /audit/verify`` does not read, within one cycle. A marker that does not decode (edited)
    restarts the cycle."""
    cursor = marker.load_marker()
    try:
        report = verify_log(log, signer, archive=archive, mode="genesis", cursor=cursor, budget=budget)
    except InvalidCursor:
        report = verify_log(log, signer, archive=archive, mode="genesis", budget=budget)
    marker.save_marker(report.next_cursor)
    return report


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


SEARCH_BUDGET = 5_000
"""Entries one filtered ``GET /audit`` reads at most (a few DynamoDB pages, well within the API's 29 s): a filter
that matches rarely answers fewer entries than asked, even none, with a ``next_cursor`` to search on from."""


def list_entries(
    log: AuditLog,
    limit: int = 100,
    cursor: str | None = None,
    where: EntryFilter | None = None,
    budget: int | None = None,
) -> EntryPage:
    """One page of entries, shard 0 first then by seq. The cursor is opaque (base64url of the position); ``None``
    when every shard has been read.

    With ``where``, only the matching entries, and at most ``budget`` entries are read per call (``scanned`` says
    how many): a page may then hold fewer than ``limit`` entries and still have a ``next_cursor``. A ``resource``
    condition reads its one shard only (the resource picks the shard)."""
    from gpubroker.domain.audit_reports import EntryPage

    limit = max(1, min(limit, MAX_PAGE))
    budget = SEARCH_BUDGET if budget is None else budget
    shard, after = (0, None) if cursor is None else _decode_cursor(cursor, log.shards)
    items: list[AuditEntry] = []
    if not where:
        while len(items) < limit and shard < log.shards:
            want = limit - len(items)
            page = log.entries(shard, after_seq=after, limit=want)
            items.extend(page)
            if len(page) < want:
                shard, after = shard + 1, None
            else:
                after = page[-1].seq
        next_cursor = None if shard >= log.shards else _encode_cursor(shard, after)
        return EntryPage(items=items, next_cursor=next_cursor, scanned=len(items))
    allowed = range(log.shards) if where.resource is None else [shard_for(where.resource, log.shards)]
    position: tuple[int, int | None] | None = _first_at_or_after(allowed, shard, after)
    read = 0
    while position is not None and len(items) < limit and read < budget:
        shard, after = position
        found = log.search(shard, where, after_seq=after, limit=limit - len(items), budget=budget - read)
        items.extend(found.items)
        read += found.read
        position = _first_at_or_after(allowed, shard + 1, None) if found.done else (shard, found.after_seq)
        if not (found.done or found.read or found.items):
            break  # no progress: answer where it stands rather than loop
    next_cursor = None if position is None else _encode_cursor(*position)
    return EntryPage(items=items, next_cursor=next_cursor, scanned=read)


def _first_at_or_after(shards: range | list[int], shard: int, after: int | None) -> tuple[int, int | None] | None:
    """Where to read next among ``shards``: (shard, after) itself when it is one of them, else the start of the next
    one, or None when none is left."""
    if shard in shards:
        return shard, after
    return next(((s, None) for s in shards if s > shard), None)
