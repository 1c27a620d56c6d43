"""Audit log hash chain integrity: Hypothesis properties of the chain, and the tamper matrix on a 10,000-entry,
8-shard log with signed checkpoints (every tampering detected, no false alarm on the untouched log)."""

from __future__ import annotations

import base64
import dataclasses
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpubroker.domain.audit import (
    ENTRY_FIELDS,
    GENESIS,
    AuditEntry,
    AuditTampered,
    Checkpoint,
    SignedCheckpoint,
    canonical,
    chain_hash,
    checkpoint_message,
    make_entry,
    shard_for,
    verify_extension,
    verify_shard,
)
from gpubroker.domain.errors import InvalidCursor
from gpubroker.services.audit import list_entries, verify_log, write_checkpoints
from tests.fakes_audit import LocalSigner, MemoryAuditLog

T0 = datetime(2025, 1, 1, tzinfo=UTC)
TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)  # no lone surrogates
STR_FIELDS = ("ts", "actor", "action", "resource", "request_id", "outcome", "prev_hash", "hash")


def build_chain(rows: list[tuple[str, str, str, str, str]], shard: int = 0) -> list[AuditEntry]:
    out: list[AuditEntry] = []
    prev = GENESIS
    for seq, (actor, action, resource, request_id, outcome) in enumerate(rows):
        e = make_entry(
            shard=shard,
            seq=seq,
            ts=(T0 + timedelta(seconds=seq)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            actor=actor,
            action=action,
            resource=resource,
            request_id=request_id,
            outcome=outcome,
            prev_hash=prev,
        )
        out.append(e)
        prev = e.hash
    return out


def rehash_from(entries: list[AuditEntry], start: int) -> list[AuditEntry]:
    """What an attacker with write access does after an edit: recompute every hash from ``start`` on."""
    out = list(entries[:start])
    prev = out[-1].hash if out else GENESIS
    for e in entries[start:]:
        fields = {**e.fields(), "prev_hash": prev}
        prev = chain_hash(prev, fields)
        out.append(AuditEntry(**fields, hash=prev))
    return out


def edited(entry: AuditEntry, field: str, rng: random.Random) -> AuditEntry:
    """``entry`` with one field changed to a different value."""
    old = getattr(entry, field)
    new: Any
    if field in ("seq", "shard"):
        new = old + rng.randint(1, 3) if rng.random() < 0.5 or old < 3 else old - rng.randint(1, min(old, 3))
    elif field in ("prev_hash", "hash"):
        i = rng.randrange(64)
        new = old[:i] + rng.choice([c for c in "0123456789abcdef" if c != old[i]]) + old[i + 1 :]
    elif field == "ts":
        i = rng.choice([3, 6, 9, 12, 15, 18, 25])  # a digit position
        new = old[:i] + str((int(old[i]) + 1) % 10) + old[i + 1 :]
    else:
        i = rng.randrange(len(old) + 1)
        new = old[:i] + rng.choice('xZ0 é"\\') + old[i:]
    assert new != old
    return dataclasses.replace(entry, **{field: new})


rows_strategy = st.lists(st.tuples(TEXT, TEXT, TEXT, TEXT, TEXT), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(rows=rows_strategy, data=st.data())
def test_audit_log_hash_chain_integrity(rows: list[tuple[str, str, str, str, str]], data: st.DataObject) -> None:
    """Random entries: the chain verifies, and any single edit of any field is detected at exactly its seq."""
    chain = build_chain(rows, shard=3)
    cp = Checkpoint(shard=3, size=len(chain), head=chain[-1].hash, time="2025-01-02T00:00:00.000000Z")
    assert verify_shard(chain, None, True, shard=3).ok
    assert verify_shard(chain, cp, True).ok

    i = data.draw(st.integers(0, len(chain) - 1), label="seq")
    field = data.draw(st.sampled_from(["seq", "shard", *STR_FIELDS]), label="field")
    rng = random.Random(data.draw(st.integers(0, 2**32), label="seed"))
    tampered = list(chain)
    tampered[i] = edited(chain[i], field, rng)
    for result in (verify_shard(tampered, None, True, shard=3), verify_shard(tampered, cp, True)):
        assert not result.ok
        assert result.first_broken_seq == i, (field, result)


@settings(max_examples=100, deadline=None)
@given(rows=rows_strategy, data=st.data())
def test_rehash_passes_the_chain_but_not_the_signed_head(
    rows: list[tuple[str, str, str, str, str]], data: st.DataObject
) -> None:
    chain = build_chain(rows)
    cp = Checkpoint(shard=0, size=len(chain), head=chain[-1].hash, time="2025-01-02T00:00:00.000000Z")
    i = data.draw(st.integers(0, len(chain) - 1))
    field = data.draw(st.sampled_from(["ts", "actor", "action", "resource", "request_id", "outcome"]))
    tampered = list(chain)
    tampered[i] = edited(chain[i], field, random.Random(i))
    rewritten = rehash_from(tampered, i)
    assert verify_shard(rewritten, None, True, shard=0).ok  # why the chain alone is not enough
    result = verify_shard(rewritten, cp, True)
    assert not result.ok
    assert result.first_broken_seq == len(chain) - 1


@settings(max_examples=300, deadline=None)
@given(a=st.tuples(TEXT, TEXT, TEXT, TEXT, TEXT), b=st.tuples(TEXT, TEXT, TEXT, TEXT, TEXT))
def test_canonical_is_injective(a: tuple[str, ...], b: tuple[str, ...]) -> None:
    """Different field values never serialise to the same bytes (no field can spill into the next)."""

    def fields(t: tuple[str, ...]) -> dict[str, Any]:
        names = ("actor", "action", "resource", "request_id", "outcome")
        base = {"shard": 0, "seq": 0, "ts": "2025-01-01T00:00:00.000000Z", "prev_hash": GENESIS}
        return {**base, **dict(zip(names, t, strict=True))}

    assert (canonical(fields(a)) == canonical(fields(b))) == (a == b)
    for f in (fields(a), fields(b)):  # the hand-written encoder is exactly compact, key-sorted JSON
        assert canonical(f) == json.dumps(f, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert json.loads(canonical(f)) == f


def test_canonical_refuses_ambiguous_shapes() -> None:
    good = build_chain([("a", "b", "c", "d", "e")])[0].fields()
    for bad in ({**good, "seq": True}, {**good, "seq": "0"}, {**good, "actor": 1}, {**good, "extra": "x"}):
        with pytest.raises(ValueError):
            canonical(bad)
    with pytest.raises(UnicodeEncodeError):
        canonical({**good, "actor": "\ud800"})
    assert set(good) == set(ENTRY_FIELDS)


def test_shard_for_is_stable_and_spread() -> None:
    assert shard_for("booking/1", 8) == shard_for("booking/1", 8)
    assert shard_for("anything", 1) == 0
    counts = Counter(shard_for(f"booking/{i}", 8) for i in range(8000))
    assert set(counts) == set(range(8))
    assert min(counts.values()) > 800


# ---- the tamper matrix ----------------------------------------------------------------------------------------

N_ENTRIES = 10_000
N_SHARDS = 8
PLAN = {
    "field_edit": 1000,
    "edit_and_rehash": 200,
    "tail_truncation": 200,
    "deletion": 200,
    "reordering": 200,
    "insertion": 200,
    "forged_checkpoint": 200,
}


@pytest.fixture(scope="module")
def signed_log() -> tuple[MemoryAuditLog, LocalSigner]:
    log = MemoryAuditLog(shards=N_SHARDS)
    rng = random.Random(20250101)
    actions = ["booking.create", "booking.cancel", "offer.ingest", "key.rotate", "user.login"]
    for i in range(N_ENTRIES):
        log.append(
            actor=f"user-{rng.randrange(500)}",
            action=rng.choice(actions),
            resource=f"booking/{rng.randrange(3000)}",
            request_id=f"req-{i:05d}",
            outcome=rng.choice(["ok", "denied", "error"]),
            ts=T0 + timedelta(milliseconds=i),
        )
    signer = LocalSigner()
    assert len(write_checkpoints(log, signer, T0 + timedelta(days=1))) == N_SHARDS
    return log, signer


Tamper = Callable[[list[AuditEntry], random.Random], tuple[list[AuditEntry], int, int]]


def _field_edit(base: list[AuditEntry], rng: random.Random) -> tuple[list[AuditEntry], int, int]:
    i = rng.randrange(len(base))
    out = list(base)
    out[i] = edited(base[i], rng.choice(["seq", "shard", *STR_FIELDS]), rng)
    return out, i, i


def _edit_and_rehash(base: list[AuditEntry], rng: random.Random) -> tuple[list[AuditEntry], int, int]:
    i = rng.randrange(len(base))
    out = list(base)
    out[i] = edited(base[i], rng.choice(["ts", "actor", "action", "resource", "request_id", "outcome"]), rng)
    return rehash_from(out, i), len(base) - 1, len(base) - 1


def _tail_truncation(base: list[AuditEntry], rng: random.Random) -> tuple[list[AuditEntry], int, int]:
    k = rng.randint(1, min(len(base), 300))
    return base[: len(base) - k], len(base) - k, len(base) - k


def _deletion(base: list[AuditEntry], rng: random.Random) -> tuple[list[AuditEntry], int, int]:
    i = rng.randrange(len(base) - 1)  # not the last (that is a tail truncation)
    return base[:i] + base[i + 1 :], i, i


def _reordering(base: list[AuditEntry], rng: random.Random) -> tuple[list[AuditEntry], int, int]:
    i, j = sorted(rng.sample(range(len(base)), 2))
    out = list(base)
    out[i], out[j] = out[j], out[i]
    return out, i, i


def _insertion(base: list[AuditEntry], rng: random.Random) -> tuple[list[AuditEntry], int, int]:
    """A forged entry, correctly chained to its predecessor, at position i < size; then the attacker either leaves
    the rest alone (a duplicated seq), renumbers it, or renumbers and rehashes it."""
    i = rng.randrange(len(base))
    prev = base[i - 1].hash if i else GENESIS
    forged = make_entry(
        shard=base[0].shard,
        seq=i,
        ts=base[i].ts,
        actor="mallory",
        action="booking.refund",
        resource=base[i].resource,
        request_id="req-forged",
        outcome="ok",
        prev_hash=prev,
    )
    rest = base[i:]
    style = rng.choice(["duplicate", "renumber", "renumber_rehash"])
    if style != "duplicate":
        rest = [dataclasses.replace(e, seq=e.seq + 1) for e in rest]
    out = [*base[:i], forged, *rest]
    if style == "renumber_rehash":
        out = rehash_from(out, i + 1)
    return out, i, len(base) - 1


def _attacker_signer() -> LocalSigner:
    return LocalSigner()


TAMPERS: dict[str, Tamper] = {
    "field_edit": _field_edit,
    "edit_and_rehash": _edit_and_rehash,
    "tail_truncation": _tail_truncation,
    "deletion": _deletion,
    "reordering": _reordering,
    "insertion": _insertion,
}


def test_tamper_matrix_detects_everything_without_false_alarms(signed_log: tuple[MemoryAuditLog, LocalSigner]) -> None:
    log, signer = signed_log
    rng = random.Random(1234)
    bases = {s: log.stored(s) for s in range(N_SHARDS)}
    signed = {s: log.latest_checkpoint(s) for s in range(N_SHARDS)}
    assert sum(len(b) for b in bases.values()) == N_ENTRIES

    started = time.perf_counter()
    false_alarms = 0
    for s in range(N_SHARDS):
        sc = signed[s]
        assert sc is not None and sc.checkpoint.size == len(bases[s])
        ok = verify_shard(bases[s], sc.checkpoint, signer.verify(checkpoint_message(sc.checkpoint), sc.signature))
        false_alarms += not ok.ok
    detected: Counter[str] = Counter()
    localised: Counter[str] = Counter()
    mallory = _attacker_signer()
    for kind, count in PLAN.items():
        for _ in range(count):
            shard = rng.randrange(N_SHARDS)
            base, sc = bases[shard], signed[shard]
            assert sc is not None
            cp = sc.checkpoint
            signature = sc.signature
            if kind == "forged_checkpoint":  # rewrite history, then sign a new head with a key that is not ours
                tampered, lo, hi = _edit_and_rehash(base, rng)
                cp = Checkpoint(shard=shard, size=len(tampered), head=tampered[-1].hash, time=cp.time)
                signature = mallory.sign(checkpoint_message(cp))
            else:
                tampered, lo, hi = TAMPERS[kind](base, rng)
            result = verify_shard(tampered, cp, signer.verify(checkpoint_message(cp), signature))
            detected[kind] += not result.ok
            localised[kind] += kind == "forged_checkpoint" or (
                result.first_broken_seq is not None and lo <= result.first_broken_seq <= hi
            )
    elapsed = time.perf_counter() - started

    # the untouched log after the matrix: copy-on-write left it intact, and the service agrees
    report = verify_log(log, signer)
    false_alarms += sum(not row.ok for row in report.shards)
    print(f"\ntamper matrix ({elapsed:.1f}s): detected {dict(detected)} of {PLAN}; false alarms {false_alarms}")
    assert dict(detected) == PLAN
    assert dict(localised) == PLAN
    assert false_alarms == 0
    assert report.ok and report.first_broken_seq is None


# ---- services over the in-memory log ----------------------------------------------------------------------------


def _small_log(n: int = 60, shards: int = 4) -> MemoryAuditLog:
    log = MemoryAuditLog(shards=shards)
    for i in range(n):
        log.append(f"user-{i % 5}", "booking.create", f"booking/{i}", f"req-{i}", "ok", ts=T0 + timedelta(seconds=i))
    return log


def test_verify_log_reports_the_broken_shard_and_seq() -> None:
    log, signer = _small_log(), LocalSigner()
    write_checkpoints(log, signer, T0)
    assert verify_log(log, signer).ok
    shard = next(s for s in range(log.shards) if len(log.stored(s)) > 5)
    entries = log.stored(shard)
    entries[4] = dataclasses.replace(entries[4], outcome="denied")
    log.restore(shard, entries)
    # an entry edited after a checkpoint covered it: the incremental verification reads past the checkpoint only
    # (the checkpoint function verified the rest before signing); the full one from genesis finds it
    assert verify_log(log, signer).ok
    report = verify_log(log, signer, mode="genesis")
    assert not report.ok
    assert (report.first_broken_shard, report.first_broken_seq) == (shard, 4)
    row = report.shards[shard]
    assert row.size == row.checkpoint_size == len(entries)
    assert all(r.ok for r in report.shards if r.shard != shard)


def test_appends_after_a_checkpoint_are_chain_verified_then_covered_by_the_next() -> None:
    log, signer = _small_log(40), LocalSigner()
    first = write_checkpoints(log, signer, T0)
    for i in range(40, 80):
        log.append("user-x", "booking.cancel", f"booking/{i}", f"req-{i}", "ok", ts=T0)
    assert verify_log(log, signer).ok
    second = write_checkpoints(log, signer, T0 + timedelta(hours=1))
    assert {c.checkpoint.shard for c in second} <= {c.checkpoint.shard for c in first} | set(range(log.shards))
    assert write_checkpoints(log, signer, T0 + timedelta(hours=2)) == []  # nothing new: nothing signed
    assert verify_log(log, signer).ok
    assert all(
        (cp := log.latest_checkpoint(s)) is not None and cp.checkpoint.size == len(log.stored(s))
        for s in range(log.shards)
    )


def test_write_checkpoints_refuses_to_bless_a_tampered_tail() -> None:
    log, signer = _small_log(40, shards=1), LocalSigner()
    write_checkpoints(log, signer, T0)
    for i in range(5):
        log.append("user-x", "booking.cancel", f"booking/{i}", f"req-late-{i}", "ok", ts=T0)
    entries = log.stored(0)
    entries[42] = dataclasses.replace(entries[42], actor="mallory")
    log.restore(0, entries)
    with pytest.raises(AuditTampered):
        write_checkpoints(log, signer, T0 + timedelta(hours=1))
    log.restore(0, entries[:38])  # truncated below the checkpoint
    with pytest.raises(AuditTampered):
        write_checkpoints(log, signer, T0 + timedelta(hours=1))


def test_a_checkpoint_signed_by_another_key_is_refused() -> None:
    log, signer = _small_log(20, shards=1), LocalSigner()
    write_checkpoints(log, signer, T0)
    sc = log.latest_checkpoint(0)
    assert sc is not None
    log.replace_checkpoint(SignedCheckpoint(sc.checkpoint, LocalSigner().sign(checkpoint_message(sc.checkpoint)), "x"))
    report = verify_log(log, signer)
    assert not report.ok
    assert "signature" in str(report.shards[0].reason)
    with pytest.raises(AuditTampered):
        write_checkpoints(log, signer, T0)


def test_verify_extension_checks_the_link_to_the_anchor() -> None:
    chain = build_chain([("a", "b", f"r{i}", "d", "e") for i in range(10)])
    anchor = Checkpoint(shard=0, size=6, head=chain[5].hash, time="2025-01-01T00:00:00.000000Z")
    assert verify_extension(chain[6:], anchor).ok
    assert verify_extension(chain[7:], anchor).first_broken_seq == 6
    bad = Checkpoint(shard=0, size=6, head=chain[4].hash, time=anchor.time)
    assert verify_extension(chain[6:], bad).first_broken_seq == 6


def test_list_entries_pages_across_shards_each_entry_once() -> None:
    log = _small_log(97, shards=5)
    seen: list[tuple[int, int]] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = list_entries(log, limit=10, cursor=cursor)
        assert len(page.items) <= 10
        seen.extend((item.shard, item.seq) for item in page.items)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 97
    assert seen == sorted(seen)
    assert pages in (10, 11)
    for bad in ("!!!", "e30", "eyJzIjo5OSwiYSI6bnVsbH0"):  # not base64, {}, shard 99
        with pytest.raises(InvalidCursor):
            list_entries(log, cursor=bad)
    # every field is bounded: a sequence number past 2**63 - 1 (a 39-digit one is not a DynamoDB number), a bool
    for forged in ({"s": 0, "a": 10**40}, {"s": 0, "a": 2**63}, {"s": True, "a": None}, {"s": 0, "a": -1}):
        token = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
        with pytest.raises(InvalidCursor):
            list_entries(log, cursor=token)


def test_entry_construction_validates_shapes() -> None:
    with pytest.raises(ValueError):
        make_entry(shard=0, seq=0, ts="2025-01-01T00:00:00", actor="a", action="b", resource="c",
                   request_id="d", outcome="e", prev_hash=GENESIS)  # fmt: skip
    with pytest.raises(ValueError):
        make_entry(shard=0, seq=0, ts="2025-01-01T00:00:00.000000Z", actor="a", action="b", resource="c",
                   request_id="d", outcome="e", prev_hash="1" * 64)  # fmt: skip
