"""Who is calling: an access token (and its fingerprint cookie) -> the Principal it names.

Two callers, one rule set. The Lambda authorizer (functions/authorizer) runs it on every protected route, with the
session check: a token whose refresh family was revoked (logout, or a reused refresh token) is refused. The
rate-limit middleware runs it on public routes only to learn the caller's plan, without the session check: there
the token buys a rate, never data, and an extra DynamoDB read on every public request would cost more than a
revoked token's remaining minutes (at most 15) at its plan's rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpubroker.domain.accounts import Principal
from gpubroker.domain.errors import InvalidToken
from gpubroker.domain.plans import plan_of
from gpubroker.domain.tokens import TokenPolicy, Verifier, verify
from gpubroker.ports import Clock, RefreshStore


@dataclass(frozen=True)
class IdentityDeps:
    keys: Verifier  # the published keys (adapters/keyring.ParameterPublicKeys): never a private key
    policy: TokenPolicy
    clock: Clock
    sessions: RefreshStore | None = None  # None: no session (revocation) check


def authenticate(token: str, fingerprint: str | None, *, deps: IdentityDeps) -> Principal:
    """The Principal of a valid access token bound to ``fingerprint``; InvalidToken otherwise."""
    claims = verify(token, "access", ring=deps.keys, policy=deps.policy, now=deps.clock.now(),
                    fingerprint=fingerprint)  # fmt: skip
    family = str(claims["fam"])
    if deps.sessions is not None and deps.sessions.family_revoked(family):
        raise InvalidToken("the token is not valid", details={"reason": "revoked"})
    roles = claims.get("roles")
    return Principal(
        user_id=str(claims["sub"]),
        plan=str(plan_of(claims.get("plan"))),
        roles=frozenset(str(r) for r in roles) if isinstance(roles, list) and roles else frozenset({"user"}),
        family=family,
        email_verified=claims.get("email_verified") is True,
    )
