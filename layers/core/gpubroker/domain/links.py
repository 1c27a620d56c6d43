"""Tokens of the links the account mails carry: email verification and password reset. Pure rules.

Each is an RS256 JWT signed by the auth key ring (the key that signs the sessions: nothing new to store, rotate or
publish), single purpose and short lived:

* header ``typ`` ``ev+jwt`` (verify email, 24 h) or ``pr+jwt`` (password reset, 1 h);
* claims ``iss``, ``aud`` = ``<audience>/<purpose>``, ``sub`` (the user id), ``email``, ``typ`` (the purpose),
  ``iat``, ``exp``, ``jti``.

A token of one purpose never passes as another (header ``typ``, claim ``typ`` and audience all differ), nor as an
access or refresh token (``at+jwt`` / ``rt+jwt`` and the plain audience are required there). Verification pins the
algorithm before choosing a key, refuses ``crit`` and unknown ``kid``s, and checks the times against an injected
clock (30 s of leeway) and the purpose's maximum lifetime, as ``gpubroker.domain.tokens.verify`` does.

A signature says who issued the link, not whether it is still wanted: a reset link is single use because the
account records the ``jti`` of the newest reset link and the reset is a conditional write on it (the store), so a
used or superseded link is refused even though its signature is good.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Literal

import jwt

from gpubroker.domain.errors import InvalidLink, InvalidToken
from gpubroker.domain.tokens import KeyRing, TokenPolicy, Verifier, header_key

Purpose = Literal["verify_email", "password_reset"]
TTL_S: dict[str, int] = {"verify_email": 24 * 3600, "password_reset": 3600}
HEADER_TYP: dict[str, str] = {"verify_email": "ev+jwt", "password_reset": "pr+jwt"}
REQUIRED = ("iss", "aud", "sub", "typ", "iat", "exp", "jti", "email")


def audience(policy: TokenPolicy, purpose: Purpose) -> str:
    return f"{policy.audience}/{purpose}"


def issue_link(
    purpose: Purpose, *, ring: KeyRing, policy: TokenPolicy, now: datetime, user_id: str, email: str
) -> tuple[str, dict[str, Any]]:
    """A signed token for ``purpose``; its claims (``jti`` and ``exp`` are what a store records)."""
    iat = int(now.timestamp())
    claims: dict[str, Any] = {"iss": policy.issuer, "aud": audience(policy, purpose), "sub": user_id, "email": email,
                              "typ": purpose, "iat": iat, "exp": iat + TTL_S[purpose],
                              "jti": secrets.token_urlsafe(16)}  # fmt: skip
    headers = {"kid": ring.active.kid, "typ": HEADER_TYP[purpose]}
    return jwt.encode(claims, ring.active.private_key, algorithm="RS256", headers=headers), claims


def verify_link(token: str, purpose: Purpose, *, ring: Verifier, policy: TokenPolicy, now: datetime) -> dict[str, Any]:
    """The claims of a valid ``purpose`` token, else ``InvalidLink`` (its ``audit_reason`` says which rule)."""
    try:
        key = header_key(token, HEADER_TYP[purpose], ring)
        claims: dict[str, Any] = jwt.decode(
            token, key=key, algorithms=["RS256"], audience=audience(policy, purpose), issuer=policy.issuer,
            options={"require": list(REQUIRED), "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )  # fmt: skip
    except InvalidToken as exc:
        raise InvalidLink(str((exc.details or {}).get("reason", "malformed"))) from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidLink("audience") from exc
    except jwt.PyJWTError as exc:
        raise InvalidLink("signature") from exc
    if claims.get("typ") != purpose:
        raise InvalidLink("type")
    t = now.timestamp()
    iat, exp = claims["iat"], claims["exp"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
        raise InvalidLink("time_claims")
    if exp <= t - policy.leeway_s:
        raise InvalidLink("expired")
    if iat > t + policy.leeway_s or exp - iat > TTL_S[purpose] or exp <= iat:
        raise InvalidLink("lifetime")
    if not all(isinstance(claims[k], str) and claims[k] for k in ("sub", "email", "jti")):
        raise InvalidLink("claims")
    return claims
