"""Signing-key rotation: a new key is published before it signs, and an old one stays published until every token
it can have signed has expired; verifiers hold only the published (public) keys."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpubroker.adapters.keyring import _canonical
from gpubroker.domain.errors import InvalidToken
from gpubroker.domain.key_rotation import CACHE_TTL_S, PUBLISH_LEAD_S, RETIRE_AFTER_S, pending, ring_from, rotated
from gpubroker.domain.tokens import (
    ACCESS_TTL_S,
    MAX_LEEWAY_S,
    PublishedKeys,
    SigningKey,
    TokenPolicy,
    issue,
    new_signing_key,
    verify,
)

POLICY = TokenPolicy(issuer="https://auth.gpubroker.test", audience="gpubroker-api")
T0 = 1_800_000_000.0


@cache
def key(kid: str) -> SigningKey:
    return new_signing_key(kid)


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _token(doc: dict[str, Any], t: float) -> str:
    token, _ = issue("access", ring=ring_from(doc, t), policy=POLICY, now=_at(t), subject="u", family="f",
                     fingerprint="fp")  # fmt: skip
    return token


def _published(doc: dict[str, Any], t: float) -> PublishedKeys:
    """What a verifier holds after reading the public parameter at ``t`` (JSON in between, as in SSM)."""
    return PublishedKeys.from_jwks(ring_from(doc, t).jwks())


def test_the_bootstrap_key_signs_at_once() -> None:
    doc = rotated({}, T0, key("k1"))
    assert ring_from(doc, T0).active.kid == "k1" and pending(doc, T0) is None


def test_a_rotated_in_key_is_published_at_once_and_signs_only_after_the_lead() -> None:
    doc = rotated(rotated({}, T0, key("k1")), T0 + 60, key("k2"))
    assert pending(doc, T0 + 60) is not None
    assert [k.kid for k in ring_from(doc, T0 + 60).published] == ["k1", "k2"]
    assert ring_from(doc, T0 + 60 + PUBLISH_LEAD_S - 1).active.kid == "k1"
    assert ring_from(doc, T0 + 60 + PUBLISH_LEAD_S).active.kid == "k2"
    assert pending(doc, T0 + 60 + PUBLISH_LEAD_S) is None
    # a verifier that read the keys at the rotation verifies the new key's first token
    first = _token(doc, T0 + 60 + PUBLISH_LEAD_S)
    assert jwt.get_unverified_header(first)["kid"] == "k2"
    assert verify(first, "access", ring=_published(doc, T0 + 60), policy=POLICY, now=_at(T0 + 60 + PUBLISH_LEAD_S),
                  fingerprint="fp")["sub"] == "u"  # fmt: skip


def test_the_old_key_stays_published_until_its_last_tokens_have_expired() -> None:
    switch = T0 + 60 + PUBLISH_LEAD_S
    doc = rotated(rotated({}, T0, key("k1")), T0 + 60, key("k2"))
    # a signer whose cached ring predates the switch signs with k1 for up to one cache period after it
    late = _token({"keys": [k for k in doc["keys"] if k["kid"] == "k1"]}, switch + CACHE_TTL_S - 1)
    assert jwt.get_unverified_header(late)["kid"] == "k1"
    last_valid = switch + CACHE_TTL_S - 1 + ACCESS_TTL_S - 1
    assert verify(late, "access", ring=_published(doc, last_valid), policy=POLICY, now=_at(last_valid),
                  fingerprint="fp")["sub"] == "u"  # fmt: skip
    gone = switch + RETIRE_AFTER_S
    assert RETIRE_AFTER_S == CACHE_TTL_S + ACCESS_TTL_S + MAX_LEEWAY_S
    assert [k.kid for k in ring_from(doc, gone).published] == ["k2"]
    with pytest.raises(InvalidToken) as refused:
        verify(late, "access", ring=_published(doc, gone), policy=POLICY, now=_at(gone), fingerprint="fp")
    assert refused.value.details == {"reason": "unknown_key"}
    # the next rotation drops what has retired
    assert [k["kid"] for k in rotated(doc, gone + 1, key("k3"))["keys"]] == ["k2", "k3"]


def test_rotating_twice_retires_the_pending_key_too() -> None:
    doc = rotated(rotated(rotated({}, T0, key("k1")), T0 + 10, key("k2")), T0 + 20, key("k3"))
    assert [k["retire_at"] is None for k in doc["keys"]] == [False, False, True]
    assert ring_from(doc, T0 + 10 + PUBLISH_LEAD_S).active.kid == "k2"
    assert ring_from(doc, T0 + 20 + PUBLISH_LEAD_S).active.kid == "k3"


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.floats(min_value=1, max_value=3 * 3600), min_size=1, max_size=8),
    sign_at=st.floats(min_value=0, max_value=5 * 3600),
    signer_age=st.floats(min_value=0, max_value=CACHE_TTL_S - 1e-3),
    verify_after=st.floats(min_value=0, max_value=ACCESS_TTL_S - 1),
    verifier_age=st.floats(min_value=0, max_value=CACHE_TTL_S - 1e-3),
)
def test_property_no_valid_token_is_ever_refused_across_rotations(
    gaps: list[float], sign_at: float, signer_age: float, verify_after: float, verifier_age: float
) -> None:
    """Rotations at any times (a rotation while one is pending is a no-op, as ``SecretsKeyRing.rotate``); a
    signer whose ring is up to one cache period old signs a token; a verifier whose keys are up to one cache period
    old checks it at any time before it expires: it always verifies."""
    kids = iter([f"k{i}" for i in range(2, 10)])
    history = [(T0, rotated({}, T0, key("k1")))]  # (from time, secret value)
    t = T0
    for gap in gaps:
        t += gap
        doc = history[-1][1]
        if pending(doc, t) is None:
            history.append((t, rotated(doc, t, key(next(kids)))))

    def secret_at(when: float) -> dict[str, Any]:
        return next(doc for since, doc in reversed(history) if since <= when)

    s = T0 + sign_at
    signer_read = max(T0, s - signer_age)
    token, _ = issue("access", ring=ring_from(secret_at(signer_read), signer_read), policy=POLICY, now=_at(s),
                     subject="u", family="f", fingerprint="fp")  # fmt: skip
    v = s + verify_after
    verifier_read = max(T0, v - verifier_age)
    keys = _published(secret_at(verifier_read), verifier_read)
    assert verify(token, "access", ring=keys, policy=POLICY, now=_at(v), fingerprint="fp")["sub"] == "u"
    # however often it rotates, the published JWKS fits a standard SSM parameter (4 KB)
    assert len(_canonical(ring_from(secret_at(verifier_read), verifier_read).jwks())) <= 4096


def test_published_keys_hold_only_rsa_public_signing_keys() -> None:
    good = key("k1").public_jwk()
    private = jwt.algorithms.RSAAlgorithm.to_jwk(key("k2").private_key, as_dict=True) | {"kid": "k2"}
    doc = {
        "keys": [
            good,
            private,  # a private key in the parameter is never used to verify
            {**key("k3").public_jwk(), "alg": "HS256"},
            {**key("k4").public_jwk(), "kid": "../../etc/passwd"},
            {**key("k5").public_jwk(), "use": "enc"},
            {"kty": "oct", "kid": "h1", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            "not a key",
        ]
    }
    keys = PublishedKeys.from_jwks(doc)
    assert list(keys.keys) == ["k1"] and keys.jwks() == {"keys": [good]}
    assert PublishedKeys.from_jwks({}).keys == {} and PublishedKeys.from_jwks([]).keys == {}  # type: ignore[arg-type]
