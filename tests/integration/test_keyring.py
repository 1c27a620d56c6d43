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
from jwt.types import Options

from gpubroker.adapters.audit import DynamoAuditLog
from gpubroker.adapters.keyring import ParameterPublicKeys, SecretsKeyRing
from gpubroker.domain.errors import InvalidToken
from gpubroker.domain.key_rotation import CACHE_TTL_S, PUBLISH_LEAD_S
from gpubroker.domain.tokens import ACCESS_TTL_S, MAX_LEEWAY_S, TokenPolicy, issue, verify
from gpubroker.services.keys import ACTION, KeyRotationDeps
from gpubroker.wiring.auth import JwksDeps
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED
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
    # the verifier read the empty parameter a moment ago, and did not keep it: it reads again, and verifies
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


def _published(deps: JwksDeps) -> tuple[dict[str, Any], str]:
    """``GET /.well-known/jwks.json`` through the JWKS function: the body and its Cache-Control."""
    event = rest_event("/.well-known/jwks.json", "/.well-known/jwks.json")
    event["httpMethod"] = "GET"
    res = fresh_handler("api_jwks").lambda_handler(event, Ctx(), deps=deps)
    assert res["statusCode"] == 200
    headers = {**(res.get("headers") or {}), **{k: v[-1] for k, v in (res.get("multiValueHeaders") or {}).items()}}
    return json.loads(res["body"]), str(headers.get("Cache-Control"))


def test_a_token_issued_at_second_1_verifies_against_the_jwks_published_at_second_2(keys: tuple[str, str]) -> None:
    """A fresh stack: the JWKS function and the authorizer read the (empty) published keys before the first login
    bootstraps the signing key; one second later both hold the key that signed (issue 11: ``{"keys": []}`` was
    served, and tokens refused, for the verifiers' whole cache period)."""
    secret, parameter = keys
    clock = Clock()
    served = JwksDeps(keys=ParameterPublicKeys(parameter, clock=clock), front_door=UNLIMITED)
    authorizer = ParameterPublicKeys(parameter, clock=clock)
    body, cache = _published(served)
    assert body == {"keys": []} and cache == "no-store"  # nothing downstream keeps an empty set either
    assert authorizer.jwks() == {"keys": []}
    clock.t += 1
    token = _sign(SecretsKeyRing(secret, parameter, clock=clock), clock.t)
    clock.t += 1
    body, cache = _published(served)
    kid = jwt.get_unverified_header(token)["kid"]
    public = jwt.PyJWK(next(k for k in body["keys"] if k["kid"] == kid)).key
    # the signature verifies with the served key (the times are the injected clock's, not the wall clock's)
    times: Options = {"verify_exp": False, "verify_iat": False, "verify_nbf": False}
    assert jwt.decode(token, public, algorithms=["RS256"], audience=POLICY.audience, options=times)["sub"] == "u"
    assert cache == "public, max-age=300"
    assert _verifies(token, authorizer, clock.t)


def test_an_empty_published_set_is_never_cached(keys: tuple[str, str]) -> None:
    """However often an empty parameter is read, the next read asks SSM again (the clock does not move), while a
    non-empty set is kept for the cache period."""
    secret, parameter = keys
    clock = Clock()
    verifier = ParameterPublicKeys(parameter, clock=clock)
    for _ in range(3):
        assert verifier.jwks() == {"keys": []}
    kid = jwt.get_unverified_header(_sign(SecretsKeyRing(secret, parameter, clock=clock), clock.t))["kid"]
    assert [k["kid"] for k in verifier.jwks()["keys"]] == [kid]
    boto3.client("ssm").put_parameter(Name=parameter, Value='{"keys":[]}', Type="String", Overwrite=True)
    assert [k["kid"] for k in verifier.jwks()["keys"]] == [kid]  # a published set is kept for CACHE_TTL_S
    clock.t += CACHE_TTL_S
    assert verifier.jwks() == {"keys": []}
