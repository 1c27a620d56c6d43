"""Incremental audit verification (issue 11, part 6): only the entries after each shard's newest trusted checkpoint
are read, within a page/time budget that answers with a cursor; ``genesis`` re-verifies everything as a resumable
job; checkpoints are linked to one another and published to an archive (S3 Object Lock in production), so an
edited or deleted checkpoint is found, the newest ones included."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gpubroker.domain.audit import (
    GENESIS,
    AuditEntry,
    AuditTampered,
    Checkpoint,
    SignedCheckpoint,
    chain_hash,
    checkpoint_digest,
    checkpoint_message,
)
from gpubroker.domain.audit_reports import AuditVerifyReport
from gpubroker.domain.errors import InvalidCursor
from gpubroker.services.audit import VerifyBudget, sweep, verify_log, write_checkpoints
from tests.fakes_audit import LocalSigner, MemoryArchive, MemoryAuditLog, MemoryMarker

T0 = datetime(2025, 1, 1, tzinfo=UTC)


class CountingLog(MemoryAuditLog):
    """Counts the entries handed to readers: what a verification costs in DynamoDB reads."""

    def __init__(self, shards: int) -> None:
        super().__init__(shards)
        self.read = 0

    def entries(self, shard: int, *, after_seq: int | None = None, limit: int = 100) -> list[AuditEntry]:
        out = super().entries(shard, after_seq=after_seq, limit=limit)
        self.read += len(out)
        return out

    def all_entries(self, shard: int) -> list[AuditEntry]:
        out = super().all_entries(shard)
        self.read += len(out)
        return out


def _fill(log: MemoryAuditLog, start: int, n: int) -> None:
    for i in range(start, start + n):
        log.append(f"user-{i % 7}", "booking.create", f"booking/{i}", f"req-{i}", "ok", ts=T0 + timedelta(seconds=i))


def _world(
    shards: int = 1, first: int = 300, runs: int = 3, tail: int = 25
) -> tuple[CountingLog, LocalSigner, MemoryArchive]:
    """``runs`` checkpoint runs over ``first`` entries each, then ``tail`` entries not yet checkpointed."""
    log, signer, archive = CountingLog(shards), LocalSigner(), MemoryArchive()
    for run in range(runs):
        _fill(log, run * first, first)
        write_checkpoints(log, signer, T0 + timedelta(minutes=5 * run), archive)
    _fill(log, runs * first, tail)
    return log, signer, archive


def _run(log: MemoryAuditLog, signer: LocalSigner, archive: MemoryArchive | None, **kw: Any) -> AuditVerifyReport:
    return verify_log(log, signer, archive=archive, **kw)


def test_incremental_reads_only_what_follows_the_newest_checkpoint() -> None:
    log, signer, archive = _world()
    log.read = 0
    report = _run(log, signer, archive)
    assert report.ok and report.complete and report.mode == "incremental"
    [row] = report.shards
    assert (row.size, row.checkpoint_size, row.verified_from, row.verified_through) == (925, 900, 899, 924)
    assert row.published is True
    assert log.read == 25 + 1  # the tail, and the one entry the newest checkpoint signed (its boundary)
    log.read = 0
    full = _run(log, signer, archive, mode="genesis")
    assert full.ok and full.shards[0].verified_from == 0 and log.read == 925


def test_checkpoints_are_linked_to_the_one_before() -> None:
    log, signer, archive = _world(runs=3, tail=0)
    cps = log.checkpoints(0, after_size=0, upto_size=10**9)
    assert [c.checkpoint.prev for c in cps] == [GENESIS, *(checkpoint_digest(c.checkpoint) for c in cps[:-1])]
    assert all(signer.verify(checkpoint_message(c.checkpoint), c.signature) for c in cps)
    assert [a.size for a in archive.versions_from(0, 0)] == [300, 600, 900]  # published, each once


@pytest.mark.parametrize("kind", ["edit", "delete", "reorder", "rehash_tail"])
def test_tampering_after_the_newest_checkpoint_is_found_at_its_seq(kind: str) -> None:
    log, signer, archive = _world(tail=40)
    entries = log.stored(0)
    if kind == "edit":
        entries[910] = dataclasses.replace(entries[910], outcome="refused:403")
    elif kind == "delete":
        del entries[910]
    elif kind == "reorder":
        # DynamoDB returns a shard in seq (key) order: a reorder swaps two items' contents between their slots
        a, b = entries[910], entries[911]
        entries[910], entries[911] = dataclasses.replace(b, seq=910), dataclasses.replace(a, seq=911)
    else:  # the boundary entry itself, rewritten and the tail rehashed: the signed head no longer matches
        prev = entries[898].hash
        for i in range(899, len(entries)):
            fields = {**entries[i].fields(), "prev_hash": prev}
            if i == 899:
                fields["actor"] = "mallory"
            entries[i] = AuditEntry(**fields, hash=chain_hash(prev, fields))
            prev = entries[i].hash
    log.restore(0, entries)
    report = _run(log, signer, archive)
    assert not report.ok and report.complete
    assert (report.first_broken_shard, report.first_broken_seq) == (0, 899 if kind == "rehash_tail" else 910)


def test_a_deleted_boundary_entry_and_a_truncated_shard_are_found() -> None:
    log, signer, archive = _world(tail=10)
    entries = log.stored(0)
    log.restore(0, [*entries[:899], *entries[900:]])  # the entry the newest checkpoint signed
    row = _run(log, signer, archive).shards[0]
    assert (row.ok, row.first_broken_seq) == (False, 899) and "missing" in str(row.reason)
    log.restore(0, entries[:850])
    row = _run(log, signer, archive).shards[0]
    assert (row.ok, row.first_broken_seq) == (False, 850) and "truncated" in str(row.reason)


def test_an_edited_checkpoint_is_found_the_newest_by_its_signature_an_older_by_its_link() -> None:
    log, signer, _ = _world(tail=0)
    newest = log.recent_checkpoints(0, 1)[0]
    log.replace_checkpoint(dataclasses.replace(newest, checkpoint=dataclasses.replace(newest.checkpoint, time="x")))
    row = _run(log, signer, None).shards[0]
    assert not row.ok and "signature" in str(row.reason)
    log.replace_checkpoint(newest)
    older = log.checkpoints(0, after_size=500, upto_size=600)[0]
    forged = dataclasses.replace(older.checkpoint, head="f" * 64)
    log.replace_checkpoint(SignedCheckpoint(forged, LocalSigner().sign(checkpoint_message(forged)), "x"))
    row = _run(log, signer, None).shards[0]
    assert not row.ok and "link" in str(row.reason)


def test_deleting_the_newest_checkpoints_is_found_through_the_archive() -> None:
    log, signer, archive = _world(runs=4, tail=5)
    log.delete_checkpoint(0, 1200)
    log.delete_checkpoint(0, 900)
    assert _run(log, signer, None).ok  # the table alone is self-consistent: why checkpoints live outside it too
    report = _run(log, signer, archive)
    assert not report.ok
    assert "size 1200" in str(report.shards[0].reason) and "deleted" in str(report.shards[0].reason)
    # nor does the checkpoint function re-anchor on the older checkpoint (it would bless a rewritten segment)
    with pytest.raises(AuditTampered, match="deleted"):
        write_checkpoints(log, signer, T0 + timedelta(hours=1), archive)
    log.delete_checkpoint(0, 600)
    log.delete_checkpoint(0, 300)  # every checkpoint of the shard
    assert "deleted" in str(_run(log, signer, archive).shards[0].reason)


def test_a_forged_archive_object_is_reported() -> None:
    log, signer, archive = _world(tail=0)
    bogus = Checkpoint(shard=0, size=2000, head="a" * 64, time="t", prev=GENESIS)
    archive.publish(SignedCheckpoint(bogus, LocalSigner().sign(checkpoint_message(bogus)), "mallory"))
    row = _run(log, signer, archive).shards[0]
    assert not row.ok and "not validly signed" in str(row.reason)
    archive.versions.pop((0, 2000))
    newest = log.recent_checkpoints(0, 1)[0]
    archive.publish(dataclasses.replace(newest, key_id="other"))  # a second version under the newest's key
    row = _run(log, signer, archive).shards[0]
    assert not row.ok and "different checkpoint" in str(row.reason)


def test_an_unpublished_checkpoint_is_published_by_the_next_run() -> None:
    log, signer, archive = _world(runs=2, tail=0)
    archive.versions.pop((0, 600))  # the previous run stopped between the table and the archive
    report = _run(log, signer, archive)
    assert report.ok and report.shards[0].published is False
    assert write_checkpoints(log, signer, T0 + timedelta(hours=1), archive) == []
    assert _run(log, signer, archive).shards[0].published is True


def _until_complete(
    log: MemoryAuditLog, signer: LocalSigner, archive: MemoryArchive, **kw: Any
) -> tuple[AuditVerifyReport, int]:
    calls, cursor = 0, None
    while True:
        report = verify_log(log, signer, archive=archive, cursor=cursor, budget=VerifyBudget(max_pages=1), **kw)
        calls += 1
        if report.complete:
            return report, calls
        assert not report.ok and report.next_cursor is not None  # never ok before the end
        cursor = report.next_cursor


def test_a_budget_stops_with_a_cursor_and_the_job_resumes_to_the_end() -> None:
    log, signer, archive = _world(shards=2, first=1500, runs=2, tail=2500)
    report, calls = _until_complete(log, signer, archive)
    assert report.ok and [r.shard for r in report.shards] == [0, 1]
    assert sum((r.verified_through or 0) - r.verified_from + 1 for r in report.shards) == 2500 + 2
    assert calls >= 3
    entries = log.stored(1)
    entries[40] = dataclasses.replace(entries[40], actor="mallory")  # long before the newest checkpoint
    log.restore(1, entries)
    report, calls = _until_complete(log, signer, archive, mode="genesis")
    assert calls >= 3 and report.mode == "genesis"
    assert not report.ok and (report.first_broken_shard, report.first_broken_seq) == (1, 40)
    assert report.shards[0].ok and report.shards[0].size == report.shards[0].verified_through + 1  # type: ignore[operator]


def test_time_budget_from_the_remaining_milliseconds() -> None:
    log, signer, archive = _world(first=2000, runs=1, tail=3000)
    left = iter([60_000, 60_000, 1_000])
    report = verify_log(log, signer, archive=archive, budget=VerifyBudget(time_left_ms=lambda: next(left, 0)))
    assert not report.complete and report.entries_read == 2000  # two pages, then less than the reserve


def test_genesis_finds_a_rewritten_and_rehashed_segment_and_a_deleted_middle_checkpoint() -> None:
    log, signer, archive = _world(runs=3, tail=0)
    entries = log.stored(0)
    prev = entries[99].hash
    for i in range(100, len(entries)):  # rewrite from seq 100 and rehash to the end: only the signed heads know
        fields = {**entries[i].fields(), "prev_hash": prev}
        if i == 100:
            fields["outcome"] = "ok:rewritten"
        entries[i] = AuditEntry(**fields, hash=chain_hash(prev, fields))
        prev = entries[i].hash
    original = log.stored(0)
    log.restore(0, entries)
    report = _run(log, signer, archive, mode="genesis")
    assert (report.first_broken_seq, report.ok) == (299, False) and "rewritten" in str(report.shards[0].reason)
    log.restore(0, original)
    assert _run(log, signer, archive, mode="genesis").ok
    log.delete_checkpoint(0, 600)
    row = _run(log, signer, archive, mode="genesis").shards[0]
    assert not row.ok and "link" in str(row.reason)


def test_a_cursor_is_checked_field_by_field() -> None:
    log, signer, archive = _world(shards=2, first=10, runs=1, tail=5)
    good = {"v": 1, "mode": "incremental", "shard": 1, "seq": 3, "prev": "0" * 64, "verified_from": 0,
            "checkpoint_size": None, "published": None, "cp_size": 0, "cp_digest": "0" * 64, "done": []}  # fmt: skip

    def enc(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    verify_log(log, signer, archive=archive, cursor=enc(good))
    for bad in (
        {**good, "shard": 2},  # past the last shard
        {**good, "seq": -1},
        {**good, "prev": "zz"},
        {**good, "mode": "everything"},
        {**good, "extra": 1},
        {**good, "seq": 10**40},
        {**good, "done": [{"shard": 1, "ok": True, "size": 0}]},  # a finished shard at or after the current one
    ):
        with pytest.raises(InvalidCursor):
            verify_log(log, signer, archive=archive, cursor=enc(bad))
    for junk in ("!!!", "e30", ""):
        with pytest.raises(InvalidCursor):
            verify_log(log, signer, archive=archive, cursor=junk or "x")


def test_the_rolling_verification_finds_an_old_edit_within_one_cycle() -> None:
    log, signer, archive = _world(shards=2, first=1500, runs=2, tail=100)
    marker = MemoryMarker()
    entries = log.stored(1)
    entries[7] = dataclasses.replace(entries[7], resource="booking/elsewhere")  # long since checkpointed
    log.restore(1, entries)
    assert verify_log(log, signer, archive=archive).ok  # the incremental verification does not read it
    reports = []
    while True:
        reports.append(sweep(log, signer, marker, archive=archive, budget=VerifyBudget(max_pages=2)))
        if reports[-1].complete:
            break
        assert marker.cursor == reports[-1].next_cursor  # the verified-through marker, stored between runs
    assert len(reports) >= 2 and marker.cursor is None  # the cycle ended: the next run starts from genesis
    assert not reports[-1].ok and (reports[-1].first_broken_shard, reports[-1].first_broken_seq) == (1, 7)
    marker.cursor = "garbage"  # an edited marker restarts the cycle rather than failing the run
    assert sweep(log, signer, marker, archive=archive, budget=VerifyBudget(max_pages=1)).shards == []
    assert marker.cursor is not None


def test_a_linked_checkpoint_signs_its_link_under_its_own_tag() -> None:
    v1 = Checkpoint(shard=2, size=5, head="a" * 64, time="2026-01-01T00:00:00.000000Z")
    v2 = dataclasses.replace(v1, prev=GENESIS)
    assert json.loads(checkpoint_message(v1)) == {"tag": "gpubroker.audit.checkpoint.v1", "shard": 2, "size": 5,
                                                 "head": "a" * 64, "time": v1.time}  # fmt: skip
    assert json.loads(checkpoint_message(v2)) == {**json.loads(checkpoint_message(v1)), "prev": GENESIS,
                                                 "tag": "gpubroker.audit.checkpoint.v2"}  # fmt: skip
    assert checkpoint_digest(v2) != checkpoint_digest(dataclasses.replace(v2, prev="1" * 64))
    signer = LocalSigner()
    assert not signer.verify(checkpoint_message(dataclasses.replace(v2, prev="1" * 64)),
                             signer.sign(checkpoint_message(v2)))  # fmt: skip
