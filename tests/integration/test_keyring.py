"""The signing keys on the AWS-compatible endpoint (moto): Secrets Manager holds the private keys, an SSM parameter
their JWKS. Bootstrap publishes; a rotation publishes the new key before it signs; verifiers read only the
parameter; the scheduled rotation function is idempotent while a rotation is pending and audits each run."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import jwt
import pytest

from gpubroker.adapters.audit import DynamoAuditLog
from gpubroker.adapters.keyring import ParameterPublicKeys, SecretsKeyRing
from gpubroker.domain.errors import InvalidToken
from gpubroker.domain.key_rotation import CACHE_TTL_S, PUBLISH_LEAD_S, REFETCH_UNKNOWN_S
from gpubroker.domain.tokens import ACCESS_TTL_S, MAX_LEEWAY_S, TokenPolicy, issue, verify
from gpubroker.services.keys import ACTION, KeyRotationDeps
from tests.events import Ctx
from tests.integration.conftest import Endpoint, fresh_handler

POLICY = TokenPolicy(issuer="https://auth.gpubroker.test", audience="gpubroker-api")
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def keys(endpoint: Endpoint) -> tuple[str, str]:
    """A fresh secret and parameter, created as the template's (provision.py) are: ``{}`` and an empty JWKS."""
    name = f"kr-{uuid.uuid4().hex[:8]}"
    secret = boto3.client("secretsmanager").create_secret(Name=name, SecretString="{}")["ARN"]
    boto3.client("ssm").put_parameter(Name=name, Value='{"keys":[]}', Type="String")
    return secret, name


def _sign(ring: SecretsKeyRing, t: float) -> str:
    token, _ = issue("access", ring=ring.ring(), policy=POLICY, now=datetime.fromtimestamp(t, UTC), subject="u",
                     family="f", fingerprint="fp")  # fmt: skip
    return token


def _verifies(token: str, verifier: ParameterPublicKeys, t: float) -> bool:
    """True if the token verifies, False if it is refused as a token (``InvalidToken``); any other error (a bug, an
    endpoint failure) propagates instead of passing for a refusal."""
    try:
        verify(token, "access", ring=verifier, policy=POLICY, now=datetime.fromtimestamp(t, UTC), fingerprint="fp")
    except InvalidToken:
        return False
    return True


def _parameter(name: str) -> dict[str, Any]:
    return dict(json.loads(boto3.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]))


def test_bootstrap_publishes_and_verifiers_hold_only_public_keys(keys: tuple[str, str]) -> None:
    secret, parameter = keys
    clock = Clock()
    verifier = ParameterPublicKeys(parameter, clock=clock)
    assert verifier.jwks() == {"keys": []}  # read before any key exists
    signer = SecretsKeyRing(secret, parameter, clock=clock)
    token = _sign(signer, clock.t)
    kid = jwt.get_unverified_header(token)["kid"]
    published = _parameter(parameter)
    assert [k["kid"] for k in published["keys"]] == [kid] and all("d" not in k for k in published["keys"])
    # the verifier read the empty parameter a moment ago: an unknown kid makes it read again, at most every 10 s
    assert not _verifies(token, verifier, clock.t)
    clock.t += REFETCH_UNKNOWN_S
    assert _verifies(token, verifier, clock.t)
    # a signer re-reading the secret finds the parameter in step and does not rewrite it
    assert signer.publish(signer.ring()) is False


def test_a_rotation_never_refuses_a_valid_token(keys: tuple[str, str]) -> None:
    secret, parameter = keys
    clock = Clock()
    signer = SecretsKeyRing(secret, parameter, clock=clock)
    verifier = ParameterPublicKeys(parameter, clock=clock)
    old = _sign(signer, clock.t)
    assert _verifies(old, verifier, clock.t)
    clock.t += 60
    rotation = SecretsKeyRing(secret, parameter, clock=clock).rotate()
    assert rotation.rotated and rotation.active_from == clock.t + PUBLISH_LEAD_S
    assert [k["kid"] for k in _parameter(parameter)["keys"]][-1] == rotation.kid  # published at once
    # a second run while the rotation is pending adds nothing
    again = SecretsKeyRing(secret, parameter, clock=clock).rotate()
    assert again == rotation.model_copy(update={"rotated": False})
    # every 60 s until every token of the old key has expired: the signer (cached ring) signs, the verifier
    # (cached keys) verifies, and the old token verifies until it expires
    kids = set()
    end = T0 + 60 + PUBLISH_LEAD_S + CACHE_TTL_S + 2 * ACCESS_TTL_S
    while clock.t < end:
        clock.t += 60
        token = _sign(signer, clock.t)
        kids.add(jwt.get_unverified_header(token)["kid"])
        assert _verifies(token, verifier, clock.t)
        assert _verifies(old, verifier, clock.t) == (clock.t < T0 + ACCESS_TTL_S + MAX_LEEWAY_S)
    assert rotation.kid in kids and len(kids) == 2
    # once the old key has retired, a signer re-reading the secret drops it from the parameter
    assert [k["kid"] for k in _parameter(parameter)["keys"]] == [rotation.kid]


def test_the_rotation_function_audits_each_run(keys: tuple[str, str], endpoint: Endpoint) -> None:
    secret, parameter = keys
    log = DynamoAuditLog(endpoint.names["AuditTable"], shards=8)
    ring = SecretsKeyRing(secret, parameter)
    ring.ring()  # bootstrapped by a first login: its key signs at once
    deps = KeyRotationDeps(keys=ring, log=log)
    handler = fresh_handler("key_rotation")
    first = handler.lambda_handler({"job": "key-rotation"}, Ctx(), deps=deps)
    second = handler.lambda_handler({"job": "key-rotation"}, Ctx(), deps=deps)
    assert first["rotated"] is True and second == {**first, "rotated": False}
    resource = f"signing-key/{first['kid']}"
    shard = log.shard_of(resource)
    entries = [e for e in log.all_entries(shard) if e.resource == resource]
    assert [(e.actor, e.action, e.outcome) for e in entries] == [
        ("system:key-rotation", ACTION, "ok"),
        ("system:key-rotation", ACTION, "pending"),
    ]
