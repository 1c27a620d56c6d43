"""Signing-key rotation, as the scheduled function runs it: rotate (publish first, sign later; see
adapters/keyring.py) and append what happened to the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the rotation model's module loads PyJWT and cryptography; this function never needs them
    from gpubroker.domain.key_rotation import KeyRotation
    from gpubroker.ports import AuditLog, RotatingKeys

ACTOR = "system:key-rotation"
ACTION = "key.rotate"


@dataclass(frozen=True)
class KeyRotationDeps:
    keys: RotatingKeys
    log: AuditLog


def rotate_signing_key(deps: KeyRotationDeps, request_id: str) -> KeyRotation:
    """Rotate, then record it: ``ok`` for a new key, ``pending`` when a rotation already under way was found (a
    retried run does not add a second key). The audit append follows the rotation, so a failed append fails the
    run and its retry records it."""
    result = deps.keys.rotate()
    outcome = "ok" if result.rotated else "pending"
    deps.log.append(actor=ACTOR, action=ACTION, resource=f"signing-key/{result.kid}", request_id=request_id,
                    outcome=outcome)  # fmt: skip
    return result
