"""Signing-key rotation: the new key signs at once, the old one stays published until its tokens have expired."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gpubroker.adapters.keyring import ring_from, rotated
from gpubroker.domain.errors import InvalidToken
from gpubroker.domain.tokens import ACCESS_TTL_S, MAX_LEEWAY_S, TokenPolicy, issue, new_signing_key, verify

POLICY = TokenPolicy(issuer="https://auth.gpubroker.test", audience="gpubroker-api")


def test_rotation_keeps_the_old_key_published_until_its_tokens_expire() -> None:
    t0 = 1_800_000_000.0
    first, second = new_signing_key("k1"), new_signing_key("k2")
    doc = rotated({}, t0, first)
    at = datetime.fromtimestamp(t0, UTC)
    old_token, _ = issue("access", ring=ring_from(doc, t0), policy=POLICY, now=at, subject="u", family="f",
                         fingerprint="fp")  # fmt: skip
    doc = rotated(doc, t0 + 60, second)
    ring = ring_from(doc, t0 + 60)
    assert ring.active.kid == "k2" and [k.kid for k in ring.published] == ["k1", "k2"]
    assert {k["kid"] for k in ring.jwks()["keys"]} == {"k1", "k2"}
    # a token the old key signed just before the rotation verifies until it expires
    later = datetime.fromtimestamp(t0 + ACCESS_TTL_S - 1, UTC)
    assert verify(old_token, "access", ring=ring_from(doc, later.timestamp()), policy=POLICY, now=later,
                  fingerprint="fp")["sub"] == "u"  # fmt: skip
    # once every token it signed has expired (lifetime + leeway after the rotation), the old key is gone
    gone = t0 + 60 + ACCESS_TTL_S + MAX_LEEWAY_S
    assert [k.kid for k in ring_from(doc, gone).published] == ["k2"]
    assert [k["kid"] for k in rotated(doc, gone + 1, new_signing_key("k3"))["keys"]] == ["k2", "k3"]
    with pytest.raises(InvalidToken):
        verify(old_token, "access", ring=ring_from(doc, gone), policy=POLICY, now=at, fingerprint="fp")
