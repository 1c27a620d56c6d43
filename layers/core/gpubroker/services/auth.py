"""Accounts and sessions: register, login, refresh (rotation with reuse detection), logout.

A session is a refresh-token *family*: login starts one (absolute end: 7 days later), every refresh spends the
presented token (a conditional write, so of N concurrent refreshes with one token exactly one wins) and issues the
next. Presenting a spent token is treated as theft: the whole family is revoked, so the thief's and the victim's
tokens die together. Access tokens carry the family id; the authorizer refuses those of a revoked family.

No user enumeration: register answers the same for a new and a taken email (and hashes the password either way);
login answers the same "invalid email or password" for an unknown email and a wrong password, and verifies against
a dummy hash when the account does not exist, so both cost one argon2id verification. Login attempts are
throttled per account and per IP.

With MFA on, a right password yields no tokens: login answers a short-lived ``login`` challenge that
``services.mfa.verify`` completes with a TOTP or recovery code (then ``start_session``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gpubroker.domain.accounts import User
from gpubroker.domain.errors import InvalidCredentials, InvalidToken, RefreshRefused, TooManyRequests
from gpubroker.domain.mfa import Challenge, new_challenge
from gpubroker.domain.tokens import REFRESH_TTL_S, TokenPolicy, issue, new_fingerprint, verify
from gpubroker.ports import (
    Clock,
    KeyRingSource,
    Mailer,
    MfaStore,
    PasswordHasher,
    RateLimiter,
    RefreshStore,
    UserStore,
)

LOGIN_PER_ACCOUNT = (10, 300.0)  # attempts, window seconds
LOGIN_PER_IP = (30, 60.0)


@dataclass
class AccountMail:
    """What sends the account mails (services.accounts): the mailer and the web app's base URL the links point to;
    ``sleep`` and ``monotonic`` pace the forgot-password answer (tests pass their own)."""

    mailer: Mailer
    app_url: str
    sleep: Callable[[float], None] = field(default=time.sleep)
    monotonic: Callable[[], float] = field(default=time.monotonic)


@dataclass
class AuthDeps:
    users: UserStore
    refresh: RefreshStore
    mfa: MfaStore
    hasher: PasswordHasher
    throttle: RateLimiter
    keys: KeyRingSource
    policy: TokenPolicy
    clock: Clock
    mail: AccountMail | None = None  # the functions that send account mail (register, verify-email, forgot)


@dataclass(frozen=True)
class Session:
    """What login and refresh hand back: the tokens, and the fingerprint to set in the hardened cookie."""

    access_token: str
    refresh_token: str
    fingerprint: str
    access_expires_in: int
    refresh_expires_in: int
    claims: dict[str, Any] = field(default_factory=dict)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def register(email: str, password: str, *, deps: AuthDeps) -> None:
    """Create the account if the email is free, and mail the address (a verification link, or a note that it has
    an account already: services.accounts.after_register). Same answer, same work, either way."""
    from gpubroker.services.accounts import after_register

    user = User(user_id=f"u_{secrets.token_hex(12)}", email=normalise_email(email),
                password_hash=deps.hasher.hash(password))  # fmt: skip
    created = deps.users.create(user)
    after_register(user.email, user if created else None, deps=deps)


def login(email: str, password: str, *, ip: str, deps: AuthDeps) -> Session | Challenge:
    """A session; or, when the account has MFA on, a ``login`` challenge for ``services.mfa.verify``."""
    email = normalise_email(email)
    for key, (limit, window) in ((f"login:acct:{email}", LOGIN_PER_ACCOUNT), (f"login:ip:{ip}", LOGIN_PER_IP)):
        decision = deps.throttle.check(key, limit, window)
        if not decision.allowed:
            raise TooManyRequests("too many login attempts", retry_after=decision.retry_after_s)
    user = deps.users.by_email(email)
    ok = deps.hasher.verify(user.password_hash if user else deps.hasher.dummy_hash, password)
    if user is None or not ok:
        raise InvalidCredentials("invalid email or password")
    if user.mfa_enabled:
        challenge = new_challenge("login", user_id=user.user_id, email=user.email, now=deps.clock.now())
        deps.mfa.put_challenge(challenge)
        return challenge
    return start_session(user, deps=deps)


def start_session(user: User, *, deps: AuthDeps) -> Session:
    now = deps.clock.now()
    family = f"f_{secrets.token_hex(12)}"
    ends = int(now.timestamp()) + REFRESH_TTL_S
    deps.refresh.start_family(family, user.user_id, ends)
    return _issue_pair(user.user_id, session_claims(user), family=family, family_ends=ends,
                       fingerprint=new_fingerprint(), now=now, deps=deps)  # fmt: skip


def session_claims(user: User) -> dict[str, Any]:
    """What a session's tokens say about the account, as it is at login and at each refresh (an upgrade, a revoked
    role, a verified email show at the next refresh): ``plan``, ``roles``, ``email_verified``."""
    return {"plan": user.plan, "roles": list(user.roles), "email_verified": user.email_verified}


def refresh(refresh_token: str, *, fingerprint: str | None, deps: AuthDeps) -> Session:
    """Spend a refresh token for a new pair. Every refusal is one ``RefreshRefused`` (one code and message for the
    client); its ``audit_reason`` says why (``fingerprint_missing``, ``reused``, ``revoked``, ``expired``, ...)."""
    try:
        return _refresh(refresh_token, fingerprint=fingerprint, deps=deps)
    except InvalidToken as exc:
        raise RefreshRefused(_reason(exc)) from exc


def _refresh(refresh_token: str, *, fingerprint: str | None, deps: AuthDeps) -> Session:
    now = deps.clock.now()
    claims = verify(refresh_token, "refresh", ring=deps.keys.ring(), policy=deps.policy, now=now,
                    fingerprint=fingerprint)  # fmt: skip
    family = str(claims["fam"])
    if deps.refresh.family_revoked(family):
        raise InvalidToken("the token is not valid", details={"reason": "revoked"})
    if not deps.refresh.spend(str(claims["jti"])):
        deps.refresh.revoke_family(family)  # a spent token came back: someone holds a copy
        raise InvalidToken("the token is not valid", details={"reason": "reused"})
    assert fingerprint is not None  # verify() refused a missing one
    user = deps.users.by_id(str(claims["sub"]))  # the plan and roles as they are now (an upgrade, a revoked role)
    if user is None:
        deps.refresh.revoke_family(family)
        raise InvalidToken("the token is not valid", details={"reason": "no_account"})
    return _issue_pair(str(claims["sub"]), session_claims(user), family=family, family_ends=int(claims["exp"]),
                       fingerprint=fingerprint, now=now, deps=deps)  # fmt: skip


def logout(refresh_token: str, *, fingerprint: str | None, deps: AuthDeps) -> None:
    """Revoke the refresh token's family. A refused token is the same ``RefreshRefused`` as on refresh: logout
    takes a refresh token too, and a specific reason would tell its holder just as much."""
    try:
        claims = verify(refresh_token, "refresh", ring=deps.keys.ring(), policy=deps.policy, now=deps.clock.now(),
                        fingerprint=fingerprint)  # fmt: skip
    except InvalidToken as exc:
        raise RefreshRefused(_reason(exc)) from exc
    deps.refresh.revoke_family(str(claims["fam"]))


def _reason(exc: InvalidToken) -> str:
    reason = exc.details.get("reason") if isinstance(exc.details, dict) else None
    return str(reason or "invalid_token")


def _issue_pair(
    subject: str, extra: dict[str, Any], *, family: str, family_ends: int, fingerprint: str, now: datetime,
    deps: AuthDeps,
) -> Session:  # fmt: skip
    ring = deps.keys.ring()
    common: dict[str, Any] = {"ring": ring, "policy": deps.policy, "now": now, "subject": subject, "family": family,
                              "fingerprint": fingerprint, "extra": extra}  # fmt: skip
    access, a_claims = issue("access", **common)
    refresh_token, r_claims = issue("refresh", **common, expires_at=family_ends)
    deps.refresh.add(str(r_claims["jti"]), family, int(r_claims["exp"]))
    return Session(
        access_token=access,
        refresh_token=refresh_token,
        fingerprint=fingerprint,
        access_expires_in=int(a_claims["exp"]) - int(a_claims["iat"]),
        refresh_expires_in=int(r_claims["exp"]) - int(r_claims["iat"]),
        claims=a_claims,
    )
