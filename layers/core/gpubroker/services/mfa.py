"""TOTP MFA: enrol a secret, then verify codes against a challenge (to activate MFA, or to complete a login); turn
it off, or replace the recovery codes.

Enrolment, disabling and new recovery codes each need a step-up proof in the request (:func:`step_up`: the
password, or a current TOTP code spent like a login's), not just a signed-in session. Enrolment (a signed-in
user) stores a *pending* secret and answers an ``enroll`` challenge; a right code for the pending secret activates
MFA and returns 10 recovery codes once (only their hashes are kept). With MFA on,
``services.auth.login`` answers a ``login`` challenge instead of tokens; a right TOTP code or an unused recovery
code for it starts the session.

Each rule and the attack it stops:

* a code is accepted for steps ``t-1..t+1`` only, and only for a step later than the last one used, recorded by a
  conditional write: replaying a seen code (also concurrently: exactly one of N requests wins) is refused;
* a recovery code is removed from the set by a conditional delete: it works once, also under concurrency;
* guessing is throttled per account (``MFA_PER_USER`` through the shared limiter, whatever the challenge) and per
  challenge (``MAX_ATTEMPTS`` codes, counted by a conditional increment, then the challenge is dead); a challenge
  lives 5 minutes and is deleted when used, so a stolen challenge id is good for nothing afterwards;
* the factor is spent before the challenge: a lost race never yields two sessions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from gpubroker.domain.accounts import User
from gpubroker.domain.errors import (
    InvalidMfaChallenge,
    InvalidMfaCode,
    MfaAlreadyEnabled,
    MfaNotEnabled,
    StepUpFailed,
    TooManyRequests,
    Unauthorized,
)
from gpubroker.domain.mfa import (
    MAX_ATTEMPTS,
    Challenge,
    MfaState,
    is_totp_code,
    matching_recovery_hash,
    matching_step,
    new_challenge,
    new_recovery_codes,
    new_secret,
    otpauth_uri,
    recovery_hash,
)
from gpubroker.services.auth import AuthDeps, Session, start_session

MFA_PER_USER = (10, 300.0)  # codes tried per account (any challenge), window seconds
STEP_UP_PER_USER = (10, 300.0)  # step-up proofs (password or code) tried per account, window seconds


@dataclass(frozen=True)
class Enrollment:
    secret: str
    otpauth_uri: str
    challenge: Challenge


@dataclass(frozen=True)
class Activated:
    """MFA is on; the recovery codes are shown this once (only their hashes are stored)."""

    recovery_codes: tuple[str, ...]


def step_up(user: User, *, password: str | None, code: str | None, deps: AuthDeps) -> None:
    """Prove again, in this request, that the caller holds the account: its password, or (MFA on) a current TOTP
    code, which is spent like a login's (a conditional write of its step: a code already used, at login or in
    another step-up, is refused, and so is a code of the same or an earlier step). A session's access token alone
    is not enough for the changes that weaken or replace a factor: a stolen token (15 minutes) must not turn MFA off.
    Throttled per account (``STEP_UP_PER_USER``); a wrong proof is a 403 ``step_up_failed``."""
    limit, window = STEP_UP_PER_USER
    decision = deps.throttle.check(f"stepup:{user.user_id}", limit, window)
    if not decision.allowed:
        raise TooManyRequests("too many step-up attempts", retry_after=decision.retry_after_s)
    if password is not None:
        if not deps.hasher.verify(user.password_hash, password):
            raise StepUpFailed("the password is not right")
        return
    if code is None:
        raise StepUpFailed("confirm with the account's password or a current TOTP code")
    state = deps.mfa.state(user.email)
    if state is None or not state.enabled or state.secret is None:
        raise StepUpFailed("MFA is not on for this account: confirm with the password")
    step = matching_step(state.secret, code, deps.clock.now(), state.last_step)
    if step is None or not deps.mfa.advance_step(user.email, step):
        raise StepUpFailed("the code is not valid (wrong, expired, or already used)")


def _account(user_id: str, deps: AuthDeps) -> User:
    user = deps.users.by_id(user_id)
    if user is None:
        raise Unauthorized("sign in first: this route needs an access token")
    return user


def enroll(user_id: str, *, password: str, deps: AuthDeps) -> Enrollment:
    """A new pending secret for the signed-in user, and the ``enroll`` challenge that confirms it; only with the
    account's password in the request (step-up: MFA is off, so there is no code to give).

    Enrolling again before confirming replaces the pending secret (the latest QR code is the one that works)."""
    user = _account(user_id, deps)
    if user.mfa_enabled:
        raise MfaAlreadyEnabled("MFA is already enabled for this account")
    step_up(user, password=password, code=None, deps=deps)
    secret = new_secret()
    if not deps.mfa.set_pending_secret(user.email, secret):  # enabled meanwhile (or the account is gone)
        raise MfaAlreadyEnabled("MFA is already enabled for this account")
    challenge = new_challenge("enroll", user_id=user.user_id, email=user.email, now=deps.clock.now())
    deps.mfa.put_challenge(challenge)
    return Enrollment(secret=secret, otpauth_uri=otpauth_uri(secret, user.email), challenge=challenge)


def disable(user_id: str, *, password: str | None, code: str | None, deps: AuthDeps) -> None:
    """MFA off (the secret and the recovery codes forgotten), with a step-up proof in the request; 409 when it is
    off already. Login asks for the password alone from then on."""
    user = _account(user_id, deps)
    if not user.mfa_enabled:
        raise MfaNotEnabled("MFA is not enabled for this account")
    step_up(user, password=password, code=code, deps=deps)
    if not deps.mfa.disable(user.email):  # turned off meanwhile by a concurrent request
        raise MfaNotEnabled("MFA is not enabled for this account")


def regenerate_recovery_codes(user_id: str, *, password: str | None, code: str | None, deps: AuthDeps) -> Activated:
    """10 new recovery codes, shown once; the old ones stop working. With a step-up proof; 409 when MFA is off."""
    user = _account(user_id, deps)
    if not user.mfa_enabled:
        raise MfaNotEnabled("MFA is not enabled for this account")
    step_up(user, password=password, code=code, deps=deps)
    codes = new_recovery_codes()
    if not deps.mfa.replace_recovery_codes(user.email, [recovery_hash(c) for c in codes]):
        raise MfaNotEnabled("MFA is not enabled for this account")
    return Activated(recovery_codes=tuple(codes))


def verify(challenge_id: str, code: str, *, deps: AuthDeps) -> Session | Activated:
    """Check ``code`` against the challenge: activate MFA (``enroll``) or start the session (``login``)."""
    now = deps.clock.now()
    challenge = deps.mfa.challenge(challenge_id)
    if challenge is None or challenge.expired(now):  # TTL deletion is lazy: the expiry is checked here
        raise _bad_challenge("unknown")
    limit, window = MFA_PER_USER
    decision = deps.throttle.check(f"mfa:{challenge.user_id}", limit, window)
    if not decision.allowed:
        raise TooManyRequests("too many MFA attempts", retry_after=decision.retry_after_s)
    # out of attempts (or spent meanwhile): sign in again. Not deleted here: a request refused by the cap must not
    # spend the challenge under a concurrent right code (which would then lose); it is dead anyway, and expires.
    if not deps.mfa.count_attempt(challenge_id, MAX_ATTEMPTS, math.floor(now.timestamp())):
        raise _bad_challenge("attempts")
    state = deps.mfa.state(challenge.email)
    if challenge.kind == "enroll":
        return _activate(challenge, code, state, now=now, deps=deps)
    return _complete_login(challenge, code, state, now=now, deps=deps)


def _activate(challenge: Challenge, code: str, state: MfaState | None, *, now: datetime, deps: AuthDeps) -> Activated:
    if state is not None and state.enabled:
        raise MfaAlreadyEnabled("MFA is already enabled for this account")
    if state is None or state.pending_secret is None:
        raise _bad_challenge("state")
    step = matching_step(state.pending_secret, code, now, state.last_step)
    if step is None:
        raise _bad_code()
    codes = new_recovery_codes()
    # conditional: still this pending secret, MFA still off, and the step not used yet
    if not deps.mfa.activate(challenge.email, state.pending_secret, step, [recovery_hash(c) for c in codes]):
        raise _bad_code()
    deps.mfa.spend_challenge(challenge.challenge_id)
    return Activated(recovery_codes=tuple(codes))


def _complete_login(
    challenge: Challenge, code: str, state: MfaState | None, *, now: datetime, deps: AuthDeps
) -> Session:
    if state is None or not state.enabled or state.secret is None:
        raise _bad_challenge("state")
    if is_totp_code(code):
        step = matching_step(state.secret, code, now, state.last_step)
        ok = step is not None and deps.mfa.advance_step(challenge.email, step)
    else:
        found = matching_recovery_hash(code, state.recovery_hashes)
        ok = found is not None and deps.mfa.consume_recovery_code(challenge.email, found)
    if not ok:
        raise _bad_code()
    if not deps.mfa.spend_challenge(challenge.challenge_id):  # another right code won this challenge
        raise _bad_challenge("spent")
    user = deps.users.by_email(challenge.email)
    if user is None:
        raise _bad_challenge("state")
    return start_session(user, deps=deps)


def _bad_code() -> InvalidMfaCode:
    return InvalidMfaCode("the code is not valid (wrong, expired, or already used)")


def _bad_challenge(reason: str) -> InvalidMfaChallenge:
    return InvalidMfaChallenge("the MFA challenge is not valid: sign in again", details={"reason": reason})
