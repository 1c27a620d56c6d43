"""Access and refresh tokens: RS256 JWTs, issued and verified against a key ring, bound to a client fingerprint.

Access token: header ``{alg: RS256, typ: at+jwt, kid}``; claims ``iss, aud, sub, typ=access, iat, nbf, exp
(iat + 15 min), jti, plan, roles, fam, fgp``. Refresh token: header ``typ: rt+jwt``; claims as above with
``typ=refresh`` and ``exp`` at most 7 days after the family started (absolute, never extended by rotation).
``fgp`` is the SHA-256 (hex) of a random fingerprint the client holds in a hardened cookie; a token presented
without the matching fingerprint is refused (a stolen token alone is useless).

Verification is explicit about every rule rather than trusting library defaults (FIELD-NOTES: PyJWT accepts a
token without ``exp`` unless told, and never checks ``typ``): the algorithm is pinned to RS256 before any key is
chosen, ``kid`` must be a known plain identifier, ``crit`` is refused (we understand no extension), the time
claims are checked here against an injected clock with a leeway of at most 30 s, and a token whose lifetime is
longer than its kind allows is refused even if correctly signed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Literal, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gpubroker.domain.errors import InvalidToken

ACCESS_TTL_S = 15 * 60
REFRESH_TTL_S = 7 * 24 * 3600
MAX_LEEWAY_S = 30
TokenKind = Literal["access", "refresh"]
HEADER_TYP: dict[str, str] = {"access": "at+jwt", "refresh": "rt+jwt"}
TTL: dict[str, int] = {"access": ACCESS_TTL_S, "refresh": REFRESH_TTL_S}
_KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
REQUIRED = ("iss", "aud", "sub", "typ", "iat", "nbf", "exp", "jti", "fam", "fgp")


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    leeway_s: int = MAX_LEEWAY_S

    def __post_init__(self) -> None:
        if not 0 <= self.leeway_s <= MAX_LEEWAY_S:
            raise ValueError(f"leeway must be within 0..{MAX_LEEWAY_S} s")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: bytes

    @cached_property
    def private_key(self) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key(self.private_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("signing keys are RSA")
        return key

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}


def new_signing_key(kid: str | None = None) -> SigningKey:
    """A fresh 2048-bit RSA key with a random kid."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return SigningKey(kid or secrets.token_urlsafe(12), pem)


class Verifier(Protocol):
    """What verifies a token: the public key for a ``kid`` (None: unknown). A ``KeyRing`` is one (it holds the
    private keys: the signing functions); ``PublishedKeys`` is the other (the JWKS alone: everything else)."""

    def public_key(self, kid: str) -> Any: ...


@dataclass(frozen=True)
class PublishedKeys:
    """The verify-only side of the key ring: the published JWKS, without a private key. Entries that are not RSA
    signing keys for RS256 with a plain ``kid`` are left out, so a bad entry can never choose the algorithm."""

    keys: dict[str, rsa.RSAPublicKey]
    doc: dict[str, Any]

    @classmethod
    def from_jwks(cls, doc: dict[str, Any]) -> PublishedKeys:
        keys: dict[str, rsa.RSAPublicKey] = {}
        kept = []
        for jwk in doc.get("keys", []) if isinstance(doc, dict) else []:
            kid = jwk.get("kid") if isinstance(jwk, dict) else None
            if not isinstance(kid, str) or not _KID.fullmatch(kid) or jwk.get("kty") != "RSA":
                continue
            if jwk.get("alg", "RS256") != "RS256" or jwk.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
            except (jwt.InvalidKeyError, KeyError, ValueError, TypeError):
                continue
            if isinstance(key, rsa.RSAPublicKey):
                keys[kid] = key
                kept.append(jwk)
        return cls(keys=keys, doc={"keys": kept})

    def public_key(self, kid: str) -> Any:
        return self.keys.get(kid)

    def jwks(self) -> dict[str, Any]:
        return self.doc


@dataclass(frozen=True)
class KeyRing:
    """The active signing key and every key whose tokens may still be alive, or soon will be (published in the
    JWKS)."""

    active: SigningKey
    published: tuple[SigningKey, ...]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.published]}

    def public_key(self, kid: str) -> Any:
        for key in self.published:
            if key.kid == kid:
                return key.private_key.public_key()
        return None


def fingerprint_hash(fingerprint: str) -> str:
    """Any text hashes, a lone surrogate from a hostile cookie included (it matches no issued fingerprint)."""
    return hashlib.sha256(fingerprint.encode("utf-8", "surrogatepass")).hexdigest()


def new_fingerprint() -> str:
    return secrets.token_urlsafe(32)


def issue(
    kind: TokenKind,
    *,
    ring: KeyRing,
    policy: TokenPolicy,
    now: datetime,
    subject: str,
    family: str,
    fingerprint: str,
    expires_at: int | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Sign a token of ``kind``; ``expires_at`` caps its expiry (a refresh family's absolute end)."""
    iat = int(now.timestamp())
    exp = iat + TTL[kind]
    if expires_at is not None:
        exp = min(exp, expires_at)
    claims: dict[str, Any] = {
        **(extra or {}),
        "iss": policy.issuer,
        "aud": policy.audience,
        "sub": subject,
        "typ": kind,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "jti": secrets.token_urlsafe(16),
        "fam": family,
        "fgp": fingerprint_hash(fingerprint),
    }
    headers = {"kid": ring.active.kid, "typ": HEADER_TYP[kind]}
    token = jwt.encode(claims, ring.active.private_key, algorithm="RS256", headers=headers)
    return token, claims


def verify(
    token: str,
    kind: TokenKind,
    *,
    ring: Verifier,
    policy: TokenPolicy,
    now: datetime,
    fingerprint: str | None,
) -> dict[str, Any]:
    """The token's claims, or InvalidToken. Every refusal carries the same public message; ``details.reason``
    says which rule refused it (for logs and tests; it reveals nothing about accounts)."""
    key = _key_for(token, kind, ring)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=["RS256"],
            audience=policy.audience,
            issuer=policy.issuer,
            options={"require": list(REQUIRED), "verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.InvalidAudienceError as exc:
        raise _refuse("audience") from exc
    except jwt.InvalidIssuerError as exc:
        raise _refuse("issuer") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise _refuse("missing_claim") from exc
    except jwt.PyJWTError as exc:
        raise _refuse("signature") from exc
    _check_times(claims, kind, policy, now)
    if claims.get("typ") != kind:
        raise _refuse("type")
    if fingerprint is None:
        raise _refuse("fingerprint_missing")
    if not hmac.compare_digest(str(claims.get("fgp")), fingerprint_hash(fingerprint)):
        raise _refuse("fingerprint")
    return claims


def _key_for(token: str, kind: TokenKind, ring: Verifier) -> Any:
    """The public key for the token's header, after the header's own rules (algorithm pinned first)."""
    return header_key(token, HEADER_TYP[kind], ring)


def header_key(token: str, typ: str, ring: Verifier) -> Any:
    """:func:`_key_for` for a header ``typ`` (the account links' tokens use it too: gpubroker.domain.links)."""
    if not token.isascii():  # a compact JWS is base64url and dots; PyJWT raised UnicodeEncodeError on a surrogate
        raise _refuse("malformed")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise _refuse("malformed") from exc
    if header.get("alg") != "RS256":
        raise _refuse("algorithm")
    if "crit" in header:  # PyJWT already refuses crit names it does not know; we refuse every one
        raise _refuse("crit")
    if header.get("typ") != typ:
        raise _refuse("type")
    kid = header.get("kid")
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise _refuse("kid")
    key = ring.public_key(kid)
    if key is None:
        raise _refuse("unknown_key")
    return key


def _check_times(claims: dict[str, Any], kind: TokenKind, policy: TokenPolicy, now: datetime) -> None:
    t = now.timestamp()
    try:
        iat, nbf, exp = (int(claims[k]) for k in ("iat", "nbf", "exp"))
    except (TypeError, ValueError) as exc:
        raise _refuse("time_claims") from exc
    if any(isinstance(claims[k], bool) for k in ("iat", "nbf", "exp")):
        raise _refuse("time_claims")
    if exp <= t - policy.leeway_s:
        raise _refuse("expired")
    if nbf > t + policy.leeway_s or iat > t + policy.leeway_s:
        raise _refuse("not_yet_valid")
    if exp - iat > TTL[kind] or exp <= nbf or nbf < iat:
        raise _refuse("lifetime")


def _refuse(reason: str) -> InvalidToken:
    return InvalidToken("the token is not valid", details={"reason": reason})
