"""The audit functions with their default wiring against moto: the table shaped as template.yaml's AuditTable, the
KMS key the local provisioning creates from AuditSigningKey. Append (through the /auth middleware and directly),
sign checkpoints with the scheduled function, tamper with one item in DynamoDB, and GET /audit/verify names the
first broken sequence number."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from gpubroker.adapters import aws
from gpubroker.adapters.audit import entry_from_item, entry_to_item
from gpubroker.domain.accounts import Principal
from gpubroker.domain.audit import AuditTampered, chain_hash
from gpubroker.wiring import edge
from infra.local.provision import provision_bucket
from tests.conftest import clear_wiring_caches
from tests.events import Ctx, rest_event
from tests.integration.conftest import Endpoint, fresh_handler, wired_auth_deps

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("aws")]

ADMIN = Principal(user_id="admin-1", plan="enterprise", roles=frozenset({"admin", "user"}))


def _clear() -> None:
    clear_wiring_caches()


@pytest.fixture
def audit_table(endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh table with the template's AuditTable key schema and billing (one per test: tampering stays here)."""
    res = endpoint.app.resources("AWS::DynamoDB::Table")["AuditTable"]["Properties"]
    name = f"audit-it-{uuid.uuid4().hex[:8]}"
    ddb = aws.client("dynamodb")
    ddb.create_table(TableName=name, **{k: res[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode")})
    monkeypatch.setenv("AUDIT_TABLE", name)
    bucket = endpoint.app.resources("AWS::S3::Bucket")["AuditCheckpointBucket"]["Properties"]
    provision_bucket(aws.client("s3"), name, bucket)  # its own archive: Object Lock as the template has it
    monkeypatch.setenv("AUDIT_CHECKPOINT_BUCKET", name)
    assert endpoint.names["AuditSigningKey"]  # provisioned from the template, its id in AUDIT_SIGNING_KEY_ID
    _clear()
    yield name
    _clear()
    ddb.delete_table(TableName=name)


def get(path: str, query: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    ev = rest_event(path, path, {k: [v] for k, v in (query or {}).items()} or None)
    ev["requestContext"]["authorizer"] = ADMIN.to_context()
    module = {"/audit": "api_list_audit", "/audit/verify": "api_verify_audit"}[path]
    res = fresh_handler(module).lambda_handler(ev, Ctx())
    return int(res["statusCode"]), json.loads(res["body"])


def checkpoint() -> dict[str, Any]:
    report: dict[str, Any] = fresh_handler("audit_checkpoint").lambda_handler({"job": "audit-checkpoint"}, Ctx())
    return report


def _fill(n: int = 40) -> None:
    log = edge.audit_log()
    for i in range(n):
        log.append(f"user:u{i % 5}", "booking.create", f"booking/{i}", f"req-{i}", "ok")


def _register_through_the_middleware() -> str:
    deps = wired_auth_deps()
    ev = rest_event("/auth/register", "/auth/register")
    ev["httpMethod"] = "POST"
    ev["body"] = json.dumps({"email": f"audit-{uuid.uuid4().hex[:6]}@example.com", "password": "x" * 16})
    ev["headers"] = {"Content-Type": "application/json"}
    ev["multiValueHeaders"] = {"Content-Type": ["application/json"]}
    ev["requestContext"]["requestId"] = request_id = f"req-reg-{uuid.uuid4().hex[:8]}"
    res = fresh_handler("api_auth_register").lambda_handler(ev, Ctx(), deps=deps)  # audit: the default wiring
    assert res["statusCode"] == 202
    return request_id


def _shard_with(min_entries: int) -> int:
    log = edge.audit_log()
    return next(s for s in range(log.shards) if len(log.all_entries(s)) >= min_entries)


def test_append_checkpoint_verify_then_an_edited_item_is_found(audit_table: str) -> None:
    request_id = _register_through_the_middleware()
    _fill()
    status, page = get("/audit", {"limit": "1000"})
    assert status == 200 and page["next_cursor"] is None and len(page["items"]) == 41
    [registered] = [e for e in page["items"] if e["request_id"] == request_id]
    assert (registered["action"], registered["outcome"], registered["resource"]) == (
        "auth.register",
        "ok",
        "/auth/register",
    )

    report = checkpoint()
    log = edge.audit_log()
    assert sorted(w["shard"] for w in report["written"]) == [s for s in range(log.shards) if log.all_entries(s)]
    again = checkpoint()
    assert (again["replayed"], again["written"]) == (0, [])  # nothing new: nothing signed twice
    assert again["sweep"] == {"entries_read": 41, "complete": True, "ok": True}  # the rolling full verification

    status, body = get("/audit/verify")
    assert status == 200 and body["ok"] is True, body
    assert all(s["checkpoint_size"] == s["size"] for s in body["shards"] if s["size"])

    shard = _shard_with(3)
    aws.client("dynamodb").update_item(
        TableName=audit_table,
        Key={"pk": {"S": f"shard#{shard}"}, "seq": {"N": "1"}},
        UpdateExpression="SET outcome = :o",
        ExpressionAttributeValues={":o": {"S": "refused:403"}},
    )
    assert get("/audit/verify")[1]["ok"] is True  # below the newest checkpoint: not read incrementally
    status, body = get("/audit/verify", {"from": "genesis"})
    assert status == 200 and body["ok"] is False
    assert (body["first_broken_shard"], body["first_broken_seq"]) == (shard, 1)
    swept = checkpoint()["sweep"]  # and the checkpoint function's rolling verification finds it unasked
    assert swept["complete"] is True and swept["ok"] is False

    # the checkpoint function checks only what it is about to sign (O(new entries)): an edited new entry
    newest = edge.audit_log().append("user:u9", "booking.create", "booking/late", "req-late", "ok")
    aws.client("dynamodb").update_item(
        TableName=audit_table,
        Key={"pk": {"S": f"shard#{newest.shard}"}, "seq": {"N": str(newest.seq)}},
        UpdateExpression="SET actor = :a",
        ExpressionAttributeValues={":a": {"S": "user:someone-else"}},
    )
    with pytest.raises(AuditTampered):
        checkpoint()


def test_an_append_that_fails_is_spooled_in_sqs_and_re_appended_by_the_checkpoint(
    audit_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIT_TABLE", f"{audit_table}-missing")  # DynamoDB answers ResourceNotFoundException
    _clear()
    request_id = _register_through_the_middleware()  # the response went out (202)
    monkeypatch.setenv("AUDIT_TABLE", audit_table)
    _clear()
    assert get("/audit", {"limit": "1000"})[1]["items"] == []
    report = checkpoint()  # the default wiring: drains the template's AuditSpoolQueue, then signs
    assert report["replayed"] == 1 and len(report["written"]) == 1
    [entry] = get("/audit", {"limit": "1000"})[1]["items"]
    assert (entry["request_id"], entry["action"], entry["outcome"]) == (request_id, "auth.register", "ok")
    assert get("/audit/verify")[1]["ok"] is True
    again = checkpoint()
    assert (again["replayed"], again["written"]) == (0, [])  # deleted from the queue once appended


def test_a_rewritten_and_rehashed_shard_is_caught_by_the_signed_checkpoint(audit_table: str) -> None:
    _fill()
    checkpoint()
    shard = _shard_with(3)
    items = aws.client("dynamodb").query(
        TableName=audit_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"shard#{shard}"}},
        ConsistentRead=True,
    )["Items"]
    entries = [entry_from_item(i) for i in items]
    # an attacker with table write access edits seq 1 and recomputes every later hash: the chain is consistent again
    prev = entries[0].hash
    for old in entries[1:]:
        fields = {**old.to_dict(), "prev_hash": prev}
        if old.seq == 1:
            fields["actor"] = "user:someone-else"
        fields["hash"] = chain_hash(prev, {k: v for k, v in fields.items() if k != "hash"})
        aws.client("dynamodb").put_item(TableName=audit_table, Item=entry_to_item(type(old)(**fields)))
        prev = fields["hash"]

    status, body = get("/audit/verify")
    assert status == 200 and body["ok"] is False
    row = body["shards"][shard]
    assert body["first_broken_shard"] == shard and row["first_broken_seq"] == len(entries) - 1
    assert "signed checkpoint" in row["reason"]


def _checkpoint_sizes(table: str, shard: int) -> list[int]:
    items = aws.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"checkpoint#{shard}"}},
        ConsistentRead=True,
    )["Items"]
    return sorted(int(i["seq"]["N"]) for i in items)


def test_deleting_the_newest_checkpoint_rows_is_reported_by_verify(audit_table: str) -> None:
    for batch in range(3):  # three checkpoint runs, each over new entries
        _fill_batch(batch)
        checkpoint()
    status, body = get("/audit/verify")
    assert status == 200 and body["ok"] is True and body["mode"] == "incremental", body
    assert all(s["published"] is True for s in body["shards"] if s["checkpoint_size"])
    shard = _shard_with(3)
    sizes = _checkpoint_sizes(audit_table, shard)
    assert len(sizes) >= 2
    for size in sizes[-2:]:  # an attacker with table write access removes the two newest checkpoints
        aws.client("dynamodb").delete_item(
            TableName=audit_table, Key={"pk": {"S": f"checkpoint#{shard}"}, "seq": {"N": str(size)}}
        )
    status, body = get("/audit/verify")
    assert status == 200 and body["ok"] is False and body["first_broken_shard"] == shard
    assert f"size {sizes[-1]}" in body["shards"][shard]["reason"] and "deleted" in body["shards"][shard]["reason"]
    with pytest.raises(AuditTampered):  # and no new checkpoint is anchored on the older one left
        checkpoint()


def _fill_batch(batch: int, n: int = 24) -> None:
    log = edge.audit_log()
    for i in range(n):
        log.append(f"user:u{i % 5}", "booking.create", f"booking/{batch}-{i}", f"req-{batch}-{i}", "ok")


def test_a_published_checkpoint_cannot_be_deleted_or_overwritten(audit_table: str) -> None:
    from botocore.exceptions import ClientError

    from gpubroker.adapters.audit_archive import archive_key

    s3 = aws.client("s3")
    lock = s3.get_object_lock_configuration(Bucket=audit_table)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    retention = lock["Rule"]["DefaultRetention"]
    assert (retention["Mode"], retention["Days"]) == ("COMPLIANCE", 400)
    _fill()
    checkpoint()
    shard = _shard_with(1)
    key = archive_key(shard, _checkpoint_sizes(audit_table, shard)[-1])
    [version] = s3.list_object_versions(Bucket=audit_table, Prefix=key)["Versions"]
    head = s3.head_object(Bucket=audit_table, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"  # the bucket's default retention, applied on publish
    with pytest.raises(ClientError) as refused:  # deleting the version itself: refused by the lock
        s3.delete_object(Bucket=audit_table, Key=key, VersionId=version["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):  # nor with a governance bypass: COMPLIANCE has none
        s3.delete_object(Bucket=audit_table, Key=key, VersionId=version["VersionId"], BypassGovernanceRetention=True)
    # a plain delete only adds a deletion marker, an overwrite only a version: the locked version is still there
    s3.delete_object(Bucket=audit_table, Key=key)
    s3.put_object(Bucket=audit_table, Key=key, Body=b"{}", ChecksumAlgorithm="SHA256")
    versions = s3.list_object_versions(Bucket=audit_table, Prefix=key)["Versions"]
    assert version["VersionId"] in {v["VersionId"] for v in versions}
    status, body = get("/audit/verify")  # and the verifier sees the overwrite attempt
    assert status == 200 and body["ok"] is False
    assert "different checkpoint" in body["shards"][shard]["reason"]


@pytest.mark.parametrize("seq", ["1" + "0" * 30, "1.5", "-3"])
@pytest.mark.parametrize("pk", ["shard", "checkpoint"])
def test_a_forged_item_with_an_absurd_sequence_number_is_reported_not_a_500(
    audit_table: str, pk: str, seq: str
) -> None:
    _fill(10)
    checkpoint()
    shard = _shard_with(1)
    forged = {
        "pk": {"S": f"{pk}#{shard}"},
        "seq": {"N": seq},
        "shard": {"N": str(shard)},
        "head": {"S": "0" * 64},
        "time": {"S": "t"},
        "signature": {"S": "AAAA"},
        "key_id": {"S": "k"},
        "hash": {"S": "0" * 64},
    }
    aws.client("dynamodb").put_item(TableName=audit_table, Item=forged)
    for query in (None, {"from": "genesis"}):
        status, body = get("/audit/verify", query)
        assert status == 200 and body["ok"] is False and body["first_broken_shard"] == shard, body
