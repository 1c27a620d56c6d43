"""Signing-key rotation, as the scheduled function runs it: rotate (publish first, sign later; see
adapters/keyring.py) and append what happened to the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from gpubroker.ports import AuditLog

ACTOR = "system:key-rotation"
ACTION = "key.rotate"


class RotatingKeys(Protocol):
    def rotate(self) -> dict[str, Any]: ...


class KeyRotation(BaseModel):
    """What a rotation run did: the pending key (``kid``, signing from ``active_from``, epoch seconds) and whether
    this run added it."""

    kid: str
    active_from: float
    rotated: bool


@dataclass(frozen=True)
class KeyRotationDeps:
    keys: RotatingKeys
    log: AuditLog


def rotate_signing_key(deps: KeyRotationDeps, request_id: str) -> KeyRotation:
    """Rotate, then record it: ``ok`` for a new key, ``pending`` when a rotation already under way was found (a
    retried run does not add a second key). The audit append follows the rotation, so a failed append fails the
    run and its retry records it."""
    result = KeyRotation.model_validate(deps.keys.rotate())
    outcome = "ok" if result.rotated else "pending"
    deps.log.append(actor=ACTOR, action=ACTION, resource=f"signing-key/{result.kid}", request_id=request_id,
                    outcome=outcome)  # fmt: skip
    return result
