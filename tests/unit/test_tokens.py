"""Tokens: the properties "authentication token validity" and "JWT token expiry enforcement", and the negative
matrix of bad tokens (each refused, each for the rule it breaks)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from gpubroker.domain.errors import InvalidToken
from gpubroker.domain.tokens import (
    ACCESS_TTL_S,
    MAX_LEEWAY_S,
    REFRESH_TTL_S,
    KeyRing,
    TokenPolicy,
    fingerprint_hash,
    issue,
    new_signing_key,
    verify,
)

KEY, OLD, OTHER = new_signing_key("k-active"), new_signing_key("k-old"), new_signing_key("k-other")
RING = KeyRing(active=KEY, published=(KEY, OLD))
POLICY = TokenPolicy(issuer="https://auth.gpubroker.example", audience="gpubroker-api")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
FP = "fingerprint-from-the-cookie"


def _access(**kw: Any) -> tuple[str, dict[str, Any]]:
    args: dict[str, Any] = {"ring": RING, "policy": POLICY, "now": NOW, "subject": "u1", "family": "f1"}
    return issue("access", **{**args, "fingerprint": FP, **kw}, extra={"plan": "pro", "roles": ["user"]})


def _refused(token: str, kind: str = "access", *, fingerprint: str | None = FP, now: datetime = NOW) -> str:
    with pytest.raises(InvalidToken) as err:
        verify(token, kind, ring=RING, policy=POLICY, now=now, fingerprint=fingerprint)  # type: ignore[arg-type]
    assert err.value.message == "the token is not valid"  # one public message whatever the rule
    return str(err.value.details["reason"])


def _sign(claims: dict[str, Any], *, key: Any = None, headers: dict[str, Any] | None = None, alg: str = "RS256") -> str:
    hdr = {"kid": KEY.kid, "typ": "at+jwt", **(headers or {})}
    return jwt.encode(claims, key if key is not None else KEY.private_key, algorithm=alg, headers=hdr)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# --- property: authentication token validity ---------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(["access", "refresh"]),
    subject=st.text(min_size=1, max_size=40),
    plan=st.sampled_from(["free", "pro", "enterprise"]),
    fingerprint=st.text(min_size=1, max_size=64),
    at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
)
def test_every_issued_token_verifies_against_the_published_jwks_with_the_right_claims(
    kind: str, subject: str, plan: str, fingerprint: str, at: datetime
) -> None:
    token, claims = issue(kind, ring=RING, policy=POLICY, now=at, subject=subject, family="fam",  # type: ignore[arg-type]
                          fingerprint=fingerprint, extra={"plan": plan})  # fmt: skip
    header = jwt.get_unverified_header(token)
    jwk = next(k for k in RING.jwks()["keys"] if k["kid"] == header["kid"])
    public = jwt.PyJWK(jwk).key
    # an independent check with PyJWT and only the published JWKS
    decoded = jwt.decode(token, public, algorithms=["RS256"], audience=POLICY.audience, issuer=POLICY.issuer,
                         options={"verify_exp": False, "verify_nbf": False, "verify_iat": False})  # fmt: skip
    assert decoded == claims
    assert header == {"alg": "RS256", "typ": {"access": "at+jwt", "refresh": "rt+jwt"}[kind], "kid": KEY.kid}
    assert decoded["sub"] == subject and decoded["typ"] == kind and decoded["plan"] == plan
    assert decoded["iat"] == decoded["nbf"] == int(at.timestamp())
    assert decoded["exp"] - decoded["iat"] == (ACCESS_TTL_S if kind == "access" else REFRESH_TTL_S)
    assert decoded["fgp"] == fingerprint_hash(fingerprint) and len(decoded["jti"]) >= 16
    assert verify(token, kind, ring=RING, policy=POLICY, now=at, fingerprint=fingerprint) == claims  # type: ignore[arg-type]


# --- property: JWT token expiry enforcement ----------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(offset=st.integers(-3 * ACCESS_TTL_S, 3 * ACCESS_TTL_S), leeway=st.integers(0, MAX_LEEWAY_S))
def test_expired_and_not_yet_valid_tokens_are_refused_with_an_explicit_leeway(offset: int, leeway: int) -> None:
    policy = TokenPolicy(POLICY.issuer, POLICY.audience, leeway_s=leeway)
    token, claims = _access()
    at = NOW + timedelta(seconds=offset)
    valid = claims["nbf"] - leeway <= at.timestamp() < claims["exp"] + leeway
    try:
        verify(token, "access", ring=RING, policy=policy, now=at, fingerprint=FP)
        accepted = True
    except InvalidToken as exc:
        accepted = False
        assert exc.details["reason"] in ("expired", "not_yet_valid")
    assert accepted == valid


@settings(max_examples=100, deadline=None)
@given(extra=st.integers(1, 10 * 24 * 3600), kind=st.sampled_from(["access", "refresh"]))
def test_over_lifetime_tokens_are_refused_even_when_correctly_signed(extra: int, kind: str) -> None:
    _, claims = issue(kind, ring=RING, policy=POLICY, now=NOW, subject="u", family="f", fingerprint=FP)  # type: ignore[arg-type]
    claims["exp"] = claims["iat"] + (ACCESS_TTL_S if kind == "access" else REFRESH_TTL_S) + extra
    token = _sign(claims, headers={"typ": "at+jwt" if kind == "access" else "rt+jwt"})
    assert _refused(token, kind) == "lifetime"


def test_a_leeway_above_30_seconds_cannot_be_configured() -> None:
    with pytest.raises(ValueError):
        TokenPolicy("i", "a", leeway_s=31)


def test_tokens_of_a_retired_but_published_key_still_verify() -> None:
    token, claims = issue("access", ring=KeyRing(active=OLD, published=(OLD,)), policy=POLICY, now=NOW,
                          subject="u", family="f", fingerprint=FP)  # fmt: skip
    assert verify(token, "access", ring=RING, policy=POLICY, now=NOW, fingerprint=FP) == claims


# --- the negative matrix -----------------------------------------------------------------------------------


def _matrix() -> dict[str, tuple[str, str, str | None, str]]:
    """name -> (token, kind expected by the endpoint, fingerprint presented, reason)."""
    good, claims = _access()
    refresh, _ = issue("refresh", ring=RING, policy=POLICY, now=NOW, subject="u1", family="f1", fingerprint=FP)
    head, body, sig = good.split(".")
    public_pem = KEY.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_with_public = ".".join(
        [_b64({"alg": "HS256", "typ": "at+jwt", "kid": KEY.kid}), body]
    )  # signed below by hand: PyJWT refuses to HMAC with a PEM key
    import hashlib
    import hmac

    mac = hmac.new(public_pem, hs_with_public.encode(), hashlib.sha256).digest()
    hs_with_public += "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    tampered = dict(claims, sub="admin", roles=["admin"])
    no_exp = {k: v for k, v in claims.items() if k != "exp"}
    return {
        "alg none": (f"{_b64({'alg': 'none', 'typ': 'at+jwt', 'kid': KEY.kid})}.{body}.", "access", FP, "algorithm"),
        "HS256 signed with the public key": (hs_with_public, "access", FP, "algorithm"),
        "signed with another key": (_sign(claims, key=OTHER.private_key), "access", FP, "signature"),
        "unknown kid": (_sign(claims, headers={"kid": "nope"}), "access", FP, "unknown_key"),
        "kid with a path": (_sign(claims, headers={"kid": "../../etc/passwd"}), "access", FP, "kid"),
        "kid with SQL": (_sign(claims, headers={"kid": "x' OR '1'='1"}), "access", FP, "kid"),
        "tampered payload": (f"{head}.{_b64(tampered)}.{sig}", "access", FP, "signature"),
        "wrong aud": (_sign(dict(claims, aud="someone-else")), "access", FP, "audience"),
        "wrong iss": (_sign(dict(claims, iss="https://evil.example")), "access", FP, "issuer"),
        "partial iss": (_sign(dict(claims, iss="https://auth.gpubroker")), "access", FP, "issuer"),
        "missing exp": (_sign(no_exp), "access", FP, "missing_claim"),
        "expired": (
            _sign(dict(claims, iat=claims["iat"] - 3600, nbf=claims["iat"] - 3600, exp=claims["iat"] - 2700)),
            "access",
            FP,
            "expired",
        ),
        "future nbf": (
            _sign(dict(claims, nbf=claims["iat"] + 120, exp=claims["iat"] + 600)),
            "access",
            FP,
            "not_yet_valid",
        ),
        "refresh token used as access token": (refresh, "access", FP, "type"),
        "access token used to refresh": (good, "refresh", FP, "type"),
        "refresh-typed claims under an access header": (_sign(dict(claims, typ="refresh")), "access", FP, "type"),
        # PyJWT refuses an unknown crit while reading the header, before our own rule
        "unknown crit": (_sign(claims, headers={"crit": ["exp-ext"], "exp-ext": 1}), "access", FP, "malformed"),
        "missing fingerprint": (good, "access", None, "fingerprint_missing"),
        "wrong fingerprint": (good, "access", "another-fingerprint", "fingerprint"),
        "malformed base64": (f"{head}.{body[:-3]}!!!.{sig}", "access", FP, "malformed"),
        "not a JWT at all": ("garbage", "access", FP, "malformed"),
    }


MATRIX = _matrix()


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_negative_matrix(name: str) -> None:
    token, kind, fingerprint, reason = MATRIX[name]
    assert _refused(token, kind, fingerprint=fingerprint) == reason


def test_the_matrix_covers_the_issue_list() -> None:
    assert len(MATRIX) >= 18  # "revoked family" is enforced by the refresh store: tests/component/test_auth.py
    good, _ = _access()
    assert verify(good, "access", ring=RING, policy=POLICY, now=NOW, fingerprint=FP)["sub"] == "u1"
