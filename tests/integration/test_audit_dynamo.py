"""The audit log against moto: concurrent appends (no lost or forked entries), KMS-signed checkpoints, and tampering
done directly in DynamoDB found by verify_log at the right seq."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gpubroker.adapters import aws
from gpubroker.adapters.audit import DynamoAuditLog, KmsCheckpointSigner
from gpubroker.domain.audit import GENESIS, AuditEntry, EntryFilter, checkpoint_message, verify_shard
from gpubroker.services.audit import list_entries, verify_log, write_checkpoints
from tests.integration.conftest import Endpoint

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("aws")]

WRITERS = 8
PER_WRITER = 25
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def table(endpoint: Endpoint) -> Iterator[str]:
    """A fresh audit table: pk (S, HASH) = "shard#<n>" / "checkpoint#<n>", seq (N, RANGE), on demand."""
    aws.reset()
    name = f"audit-{uuid.uuid4().hex[:8]}"
    ddb = aws.client("dynamodb")
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "seq", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "seq", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.get_waiter("table_exists").wait(TableName=name)
    yield name
    ddb.delete_table(TableName=name)


@pytest.fixture(params=[("ECC_NIST_P256", "ECDSA_SHA_256"), ("RSA_2048", "RSASSA_PSS_SHA_256")], ids=["ecc", "rsa"])
def signer(endpoint: Endpoint, request: pytest.FixtureRequest) -> KmsCheckpointSigner:
    key_spec, algorithm = request.param
    key = aws.client("kms").create_key(KeyUsage="SIGN_VERIFY", KeySpec=key_spec, Description="audit checkpoints")
    return KmsCheckpointSigner(key["KeyMetadata"]["KeyId"], signing_algorithm=algorithm)


@pytest.fixture
def atomic_conditional_puts(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB evaluates a ConditionExpression and writes atomically per item; moto (5.x) reads the current item,
    evaluates the condition, then stores, with no lock, so under a threaded moto server two conditional puts on the
    same key can both succeed (seen: 1 of 200 acknowledged appends overwritten, in about 1 run of 5). Give moto's
    in-process Table.put_item DynamoDB's atomicity, so these tests measure our algorithm, not moto's race. Against a
    real endpoint (``AWS_ENDPOINT_URL`` given) the patch is inert."""
    from moto.dynamodb.models.table import Table

    lock = threading.Lock()
    original = Table.put_item

    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(Table, "put_item", put_item)


def _append_concurrently(log: DynamoAuditLog) -> list[AuditEntry]:
    barrier = threading.Barrier(WRITERS)

    def writer(w: int) -> list[AuditEntry]:
        barrier.wait()
        return [
            log.append(f"user-{w}", "booking.create", f"booking/{w}-{i}", f"req-{w}-{i}", "ok")
            for i in range(PER_WRITER)
        ]

    with ThreadPoolExecutor(WRITERS) as pool:
        return [e for batch in pool.map(writer, range(WRITERS)) for e in batch]


def _assert_intact(log: DynamoAuditLog, returned: list[AuditEntry]) -> dict[int, list[AuditEntry]]:
    stored = {s: log.all_entries(s) for s in range(log.shards)}
    flat = [e for entries in stored.values() for e in entries]
    assert len(flat) == len(returned) == WRITERS * PER_WRITER
    # 0 lost: every request is stored, exactly once, exactly as append returned it
    assert sorted(e.request_id for e in flat) == sorted(
        f"req-{w}-{i}" for w in range(WRITERS) for i in range(PER_WRITER)
    )
    assert set(flat) == set(returned)
    for shard, entries in stored.items():
        assert [e.seq for e in entries] == list(range(len(entries)))  # contiguous
        # 0 forks: one successor per entry, each prev_hash is its predecessor's hash
        assert [e.prev_hash for e in entries] == [GENESIS, *(e.hash for e in entries[:-1])]
        assert verify_shard(entries, None, True, shard=shard).ok
    return stored


@pytest.mark.usefixtures("atomic_conditional_puts")
def test_concurrent_writers_lose_nothing_and_never_fork(table: str) -> None:
    log = DynamoAuditLog(table, shards=8)
    started = time.perf_counter()
    returned = _append_concurrently(log)
    elapsed = time.perf_counter() - started
    stored = _assert_intact(log, returned)
    print(
        f"\n8 shards: {len(returned)} entries in {elapsed:.2f}s, conflicts retried {log.conflicts}, "
        f"sizes {[len(v) for v in stored.values()]}"
    )


@pytest.mark.usefixtures("atomic_conditional_puts")
def test_one_shard_under_full_contention(table: str) -> None:
    log = DynamoAuditLog(table, shards=1)
    started = time.perf_counter()
    returned = _append_concurrently(log)
    elapsed = time.perf_counter() - started
    stored = _assert_intact(log, returned)
    assert len(stored[0]) == WRITERS * PER_WRITER
    assert log.conflicts > 0  # the writers really did collide, and the conditional put resolved it
    print(f"\n1 shard: {len(returned)} entries in {elapsed:.2f}s, conflicts retried {log.conflicts}")


def test_kms_checkpoint_sign_verify_round_trip(table: str, signer: KmsCheckpointSigner) -> None:
    log = DynamoAuditLog(table, shards=2)
    for i in range(10):
        log.append("user-1", "booking.create", f"booking/{i}", f"req-{i}", "ok")
    written = write_checkpoints(log, signer, NOW)
    assert {w.checkpoint.shard for w in written} == {s for s in range(2) if log.head(s) is not None}
    for w in written:
        stored = log.latest_checkpoint(w.checkpoint.shard)
        assert stored == w
        message = checkpoint_message(stored.checkpoint)
        assert signer.verify(message, stored.signature)
        assert not signer.verify(message.replace(b'"size":', b'"size":1'), stored.signature)
        assert not signer.verify(message, b"\x00" * len(stored.signature))
        assert not signer.verify(message, b"")
    other = aws.client("kms").create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    forged = KmsCheckpointSigner(other).sign(checkpoint_message(written[0].checkpoint))
    assert not signer.verify(checkpoint_message(written[0].checkpoint), forged)  # another key's signature
    assert write_checkpoints(log, signer, NOW) == []  # nothing new
    assert verify_log(log, signer).ok


def _seeded(table: str, signer: KmsCheckpointSigner) -> tuple[DynamoAuditLog, int, int]:
    log = DynamoAuditLog(table, shards=2)
    for i in range(40):
        log.append(f"user-{i % 3}", "booking.create", f"booking/{i}", f"req-{i}", "ok")
    write_checkpoints(log, signer, NOW)
    assert verify_log(log, signer).ok
    shard = max(range(2), key=lambda s: len(log.all_entries(s)))
    return log, shard, len(log.all_entries(shard))


def _key(shard: int, seq: int) -> dict[str, Any]:
    return {"pk": {"S": f"shard#{shard}"}, "seq": {"N": str(seq)}}


@pytest.mark.parametrize("signer", [("ECC_NIST_P256", "ECDSA_SHA_256")], indirect=True, ids=["ecc"])
def test_an_item_edited_in_dynamodb_is_found_at_its_seq(table: str, signer: KmsCheckpointSigner) -> None:
    log, shard, size = _seeded(table, signer)
    aws.client("dynamodb").update_item(
        TableName=table,
        Key=_key(shard, 7),
        UpdateExpression="SET outcome = :o",
        ExpressionAttributeValues={":o": {"S": "denied"}},
    )
    report = verify_log(log, signer, mode="genesis")  # below the newest checkpoint: the full verification
    assert not report.ok
    assert (report.first_broken_shard, report.first_broken_seq) == (shard, 7)
    assert report.shards[shard].size == report.shards[shard].checkpoint_size == size


@pytest.mark.parametrize("signer", [("ECC_NIST_P256", "ECDSA_SHA_256")], indirect=True, ids=["ecc"])
def test_a_truncated_tail_and_a_deleted_item_are_found(table: str, signer: KmsCheckpointSigner) -> None:
    log, shard, size = _seeded(table, signer)
    ddb = aws.client("dynamodb")
    for seq in range(size - 3, size):
        ddb.delete_item(TableName=table, Key=_key(shard, seq))
    report = verify_log(log, signer)
    row = report.shards[shard]
    assert not report.ok
    assert row.first_broken_seq == size - 3
    assert "truncated" in str(row.reason)
    ddb.delete_item(TableName=table, Key=_key(shard, 5))
    row = verify_log(log, signer, mode="genesis").shards[shard]
    assert row.first_broken_seq == 5
    assert "missing" in str(row.reason)


def test_list_entries_pages_through_dynamodb(table: str) -> None:
    log = DynamoAuditLog(table, shards=3)
    for i in range(23):
        log.append("user-1", "booking.create", f"booking/{i}", f"req-{i}", "ok")
    seen: list[tuple[int, int]] = []
    cursor: str | None = None
    while True:
        page = list_entries(log, limit=4, cursor=cursor)
        seen.extend((item.shard, item.seq) for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 23
    assert seen == sorted(seen)


FILTERS = [
    EntryFilter(actor="user:u1"),
    EntryFilter(action="auth"),  # the family: auth.login, auth.mfa.enroll; not authz.check
    EntryFilter(outcome="refused"),
    EntryFilter(outcome="ok"),  # not "okay"
    EntryFilter(outcome="refused:401", actor="user:u2"),
    EntryFilter(resource="booking/3"),
    EntryFilter(request_id="req-17"),
    EntryFilter(since="2025-03-01T12:10:00.000000Z", until="2025-03-01T12:20:00.000000Z", action="booking.create"),
]


@pytest.mark.parametrize("where", FILTERS, ids=[str(n) for n in range(len(FILTERS))])
def test_a_filtered_list_in_dynamodb_matches_the_filters_own_semantics(table: str, where: EntryFilter) -> None:
    """The FilterExpression DynamoDB runs answers what EntryFilter.matches says, through short budgets and pages."""
    log = DynamoAuditLog(table, shards=3)
    actions = ("auth.login", "auth.mfa.enroll", "booking.create", "authz.check")
    outcomes = ("ok", "refused:401", "refused:401:reused", "error:503", "okay")
    for i in range(30):
        log.append(f"user:u{i % 3}", actions[i % 4], f"booking/{i % 10}", f"req-{i}", outcomes[i % 5],
                   ts=NOW + timedelta(minutes=i))  # fmt: skip
    everything = [e for shard in range(3) for e in log.all_entries(shard)]
    want = [(e.shard, e.seq) for e in everything if where.matches(e)]
    assert want
    seen: list[tuple[int, int]] = []
    cursor: str | None = None
    while True:
        page = list_entries(log, limit=2, cursor=cursor, where=where, budget=4)
        assert page.scanned <= 4  # the budget bounds the entries DynamoDB reads per call
        seen.extend((item.shard, item.seq) for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == want
