"""The audit log's readers (``GET /audit``, ``GET /audit/verify``) and the scheduled checkpoint signer."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from gpubroker.api.deps import ApiDeps
from gpubroker.config import AuditSigningSettings, load_settings
from gpubroker.wiring import edge

if TYPE_CHECKING:
    from gpubroker.ports import AuditLog, AuditSpool, CheckpointArchive, CheckpointSigner, Clock, VerifyMarker


@cache
def audit_signer() -> CheckpointSigner:
    """The KMS asymmetric key that signs (checkpoint function) and verifies (``GET /audit/verify``) checkpoints."""
    from gpubroker.adapters.audit import KmsCheckpointSigner

    return KmsCheckpointSigner(load_settings(AuditSigningSettings).AUDIT_SIGNING_KEY_ID)


@cache
def audit_archive() -> CheckpointArchive:
    """The S3 bucket with Object Lock where the checkpoint function publishes every checkpoint and the verifier
    looks for newer ones than the table's (``AUDIT_CHECKPOINT_BUCKET``)."""
    from gpubroker.adapters.audit_archive import S3CheckpointArchive

    return S3CheckpointArchive(load_settings(AuditSigningSettings).AUDIT_CHECKPOINT_BUCKET)


@dataclass(frozen=True, kw_only=True)
class AuditListDeps(ApiDeps):
    """``GET /audit``: the log."""

    log: AuditLog


@cache
def audit_list_deps() -> AuditListDeps:
    return AuditListDeps(log=edge.audit_log(), front_door=edge.front_door())


@dataclass(frozen=True, kw_only=True)
class AuditVerifyDeps(AuditListDeps):
    """``GET /audit/verify``: the log, the key its checkpoints are signed with, and their archive (None: the
    table's checkpoints only)."""

    signer: CheckpointSigner
    archive: CheckpointArchive | None = None


@cache
def audit_verify_deps() -> AuditVerifyDeps:
    return AuditVerifyDeps(
        log=edge.audit_log(), signer=audit_signer(), archive=audit_archive(), front_door=edge.front_door()
    )


@dataclass(frozen=True)
class CheckpointDeps:
    """The scheduled checkpoint: re-append the spool, sign each shard's head and publish it, then advance the
    rolling full verification (``marker``: where it stopped; None: no rolling verification)."""

    log: AuditLog
    signer: CheckpointSigner
    spool: AuditSpool | None = None
    clock: Clock = field(default_factory=edge.system_clock)
    archive: CheckpointArchive | None = None
    marker: VerifyMarker | None = None


@cache
def checkpoint_deps() -> CheckpointDeps:
    from gpubroker.adapters.audit import DynamoVerifyMarker

    table = load_settings(AuditSigningSettings).AUDIT_TABLE
    return CheckpointDeps(
        log=edge.audit_log(),
        signer=audit_signer(),
        spool=edge.audit_spool(),
        archive=audit_archive(),
        marker=DynamoVerifyMarker(table),
    )
