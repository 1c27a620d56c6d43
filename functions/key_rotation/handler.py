"""Scheduled: rotate the JWT signing keys. The new key is published at once and signs only once every verifier has
read it; the old one stays published until its tokens have expired (adapters/keyring.py). Audited."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import KeyRotationSettings
from gpubroker.observability import event_handler, logger, metrics
from gpubroker.services.keys import KeyRotationDeps, rotate_signing_key
from gpubroker.wiring.auth import key_rotation_deps

Settings = KeyRotationSettings
Deps = KeyRotationDeps


@event_handler(key_rotation_deps)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    rotation = rotate_signing_key(deps, request_id=context.aws_request_id)
    metrics.add_metric(name="SigningKeyRotated", unit=MetricUnit.Count, value=1 if rotation.rotated else 0)
    result = rotation.model_dump()
    logger.info("signing key rotation", extra=result)
    return result
