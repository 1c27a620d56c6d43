"""TOTP MFA against in-memory ports (services.mfa, services.auth.login): each rule with the attack it stops. The
fakes' conditional writes are atomic under one lock, as DynamoDB's are per item. The handlers over the same rules:
tests/component/test_mfa_handlers.py."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from gpubroker.domain.errors import (
    InvalidCredentials,
    InvalidMfaChallenge,
    InvalidMfaCode,
    MfaAlreadyEnabled,
    TooManyRequests,
)
from gpubroker.domain.mfa import CHALLENGE_TTL_S, MAX_ATTEMPTS, Challenge, code_at, recovery_hash, step_at
from gpubroker.domain.tokens import verify as verify_token
from gpubroker.services import auth, mfa
from tests.fakes import FixedClock, Unlimited
from tests.fakes_auth import auth_world

EMAIL, PASSWORD, IP = "ada@example.com", "correct horse battery", "198.51.100.7"


def _world() -> tuple[auth.AuthDeps, FixedClock]:
    deps, clock = auth_world()
    auth.register(EMAIL, PASSWORD, deps=deps)
    return deps, clock


def _uid(deps: auth.AuthDeps) -> str:
    user = deps.users.by_email(EMAIL)
    assert user is not None
    return user.user_id


def _code(secret: str, clock: FixedClock, offset: int = 0) -> str:
    return code_at(secret, step_at(clock.now()) + offset)


def _enabled() -> tuple[auth.AuthDeps, FixedClock, str, tuple[str, ...]]:
    """An account with MFA on (enrolled and confirmed), the clock one step after the confirming code."""
    deps, clock = _world()
    started = mfa.enroll(_uid(deps), password=PASSWORD, deps=deps)
    done = mfa.verify(started.challenge.challenge_id, _code(started.secret, clock), deps=deps)
    assert isinstance(done, mfa.Activated)
    clock.advance(30)
    return deps, clock, started.secret, done.recovery_codes


def _login_challenge(deps: auth.AuthDeps, ip: str = IP) -> str:
    result = auth.login(EMAIL, PASSWORD, ip=ip, deps=deps)
    assert isinstance(result, Challenge), "with MFA on, login must not hand out tokens"
    return result.challenge_id


def _session(deps: auth.AuthDeps, challenge: str, code: str) -> auth.Session:
    result = mfa.verify(challenge, code, deps=deps)
    assert isinstance(result, auth.Session)
    return result


# ---- enrolment -------------------------------------------------------------------------------------------------


def test_enroll_then_verify_activates_mfa_and_shows_the_recovery_codes_once() -> None:
    deps, clock = _world()
    started = mfa.enroll(_uid(deps), password=PASSWORD, deps=deps)
    assert started.challenge.kind == "enroll" and started.secret in started.otpauth_uri
    state = deps.mfa.state(EMAIL)
    assert state is not None and state.pending_secret == started.secret and not state.enabled
    # until a code confirms the secret, MFA is off: a half-done enrolment cannot lock anyone out
    assert isinstance(auth.login(EMAIL, PASSWORD, ip=IP, deps=deps), auth.Session)
    done = mfa.verify(started.challenge.challenge_id, _code(started.secret, clock), deps=deps)
    assert isinstance(done, mfa.Activated) and len(done.recovery_codes) == 10
    state = deps.mfa.state(EMAIL)
    assert state is not None and state.enabled and state.secret == started.secret and state.pending_secret is None
    # stored hashed: no stored value is a code, each code's hash is stored
    assert state.recovery_hashes == {recovery_hash(c) for c in done.recovery_codes}
    assert not set(done.recovery_codes) & state.recovery_hashes
    with pytest.raises(InvalidMfaChallenge):  # the enrol challenge is spent
        mfa.verify(started.challenge.challenge_id, _code(started.secret, clock), deps=deps)
    with pytest.raises(MfaAlreadyEnabled) as again:  # re-enrolling would let a session thief swap the secret
        mfa.enroll(_uid(deps), password=PASSWORD, deps=deps)
    assert again.value.code == "mfa_already_enabled"


def test_a_wrong_code_does_not_activate_and_a_recovery_code_cannot_confirm_an_enrolment() -> None:
    deps, clock = _world()
    started = mfa.enroll(_uid(deps), password=PASSWORD, deps=deps)
    wrong = "000000" if _code(started.secret, clock) != "000000" else "111111"
    with pytest.raises(InvalidMfaCode):
        mfa.verify(started.challenge.challenge_id, wrong, deps=deps)
    with pytest.raises(InvalidMfaCode):
        mfa.verify(started.challenge.challenge_id, "abcd-efgh-ijkl-mnop", deps=deps)
    with pytest.raises(InvalidMfaCode):  # a code of the *previous* pending secret (enrolled again since)
        restarted = mfa.enroll(_uid(deps), password=PASSWORD, deps=deps)
        mfa.verify(restarted.challenge.challenge_id, _code(started.secret, clock), deps=deps)
    state = deps.mfa.state(EMAIL)
    assert state is not None and not state.enabled
    assert isinstance(auth.login(EMAIL, PASSWORD, ip=IP, deps=deps), auth.Session)


# ---- login -------------------------------------------------------------------------------------------------------


def test_with_mfa_on_login_answers_a_challenge_and_a_code_completes_it() -> None:
    deps, clock, secret, _ = _enabled()
    challenge = _login_challenge(deps)
    assert not deps.refresh.families  # type: ignore[attr-defined]  # no session exists before the second factor
    s = _session(deps, challenge, _code(secret, clock))
    claims = verify_token(s.access_token, "access", ring=deps.keys.ring(), policy=deps.policy,
                          now=deps.clock.now(), fingerprint=s.fingerprint)  # fmt: skip
    assert claims["sub"] == _uid(deps)
    with pytest.raises(InvalidMfaChallenge):  # the login challenge is spent
        mfa.verify(challenge, _code(secret, clock, 1), deps=deps)


def test_the_wrong_password_still_gets_no_challenge() -> None:
    deps, _, _, _ = _enabled()
    with pytest.raises(InvalidCredentials):
        auth.login(EMAIL, "wrong password!!", ip=IP, deps=deps)


def test_a_code_is_accepted_once_replay_is_refused() -> None:
    deps, clock, secret, _ = _enabled()
    code = _code(secret, clock)
    _session(deps, _login_challenge(deps), code)
    with pytest.raises(InvalidMfaCode):  # an observer of the code, with the password, on a fresh challenge
        mfa.verify(_login_challenge(deps), code, deps=deps)
    with pytest.raises(InvalidMfaCode):  # an older code (still within the drift window) is refused too
        mfa.verify(_login_challenge(deps), _code(secret, clock, -1), deps=deps)
    clock.advance(30)
    assert _session(deps, _login_challenge(deps), _code(secret, clock)).access_token


def test_the_code_that_confirmed_enrolment_cannot_log_in() -> None:
    deps, clock = _world()
    started = mfa.enroll(_uid(deps), password=PASSWORD, deps=deps)
    code = _code(started.secret, clock)
    assert isinstance(mfa.verify(started.challenge.challenge_id, code, deps=deps), mfa.Activated)
    with pytest.raises(InvalidMfaCode):
        mfa.verify(_login_challenge(deps), code, deps=deps)


def test_drift_of_one_step_is_accepted_two_are_not() -> None:
    deps, clock, secret, _ = _enabled()
    clock.advance(300)
    far = {_code(secret, clock, d) for d in (-2, 2)} - {_code(secret, clock, d) for d in (-1, 0, 1)}
    for code in far:
        with pytest.raises(InvalidMfaCode):
            mfa.verify(_login_challenge(deps), code, deps=deps)
    assert _session(deps, _login_challenge(deps), _code(secret, clock, 1)).access_token  # a phone 30 s fast


def _race(n: int, attempt: Callable[[int], object]) -> list[str]:
    results: list[str] = []
    barrier = threading.Barrier(n)

    def go(i: int) -> None:
        barrier.wait()
        try:
            attempt(i)
            results.append("ok")
        except (InvalidMfaCode, InvalidMfaChallenge, TooManyRequests) as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == n
    return results


def test_twenty_concurrent_submissions_of_one_code_on_one_challenge_exactly_one_succeeds() -> None:
    deps, clock, secret, _ = _enabled()
    challenge, code = _login_challenge(deps), _code(secret, clock)
    results = _race(20, lambda _: _session(deps, challenge, code))
    assert results.count("ok") == 1, results


def test_twenty_concurrent_submissions_of_one_code_on_twenty_challenges_exactly_one_succeeds() -> None:
    """The phished-code attack: the attacker has the password too and races the victim with their own logins.
    Throttling is off here so that every request reaches the conditional step write, the thing under test."""
    deps, clock, secret, _ = _enabled()
    deps.throttle = Unlimited()
    challenges = [_login_challenge(deps) for _ in range(20)]
    code = _code(secret, clock)
    results = _race(20, lambda i: _session(deps, challenges[i], code))
    assert sorted(results) == ["invalid_mfa_code"] * 19 + ["ok"]


def test_twenty_concurrent_submissions_of_one_recovery_code_exactly_one_succeeds() -> None:
    deps, _, _, recovery = _enabled()
    deps.throttle = Unlimited()
    challenges = [_login_challenge(deps) for _ in range(20)]
    results = _race(20, lambda i: _session(deps, challenges[i], recovery[0]))
    assert sorted(results) == ["invalid_mfa_code"] * 19 + ["ok"]


# ---- throttling and expiry ---------------------------------------------------------------------------------------


def test_a_challenge_takes_at_most_five_codes_then_even_the_right_one_is_refused() -> None:
    deps, clock, secret, _ = _enabled()
    challenge = _login_challenge(deps)
    right = _code(secret, clock)
    wrong = next(c for c in ("000000", "111111", "222222") if c not in {_code(secret, clock, d) for d in (-1, 0, 1)})
    for _ in range(MAX_ATTEMPTS):
        with pytest.raises(InvalidMfaCode):
            mfa.verify(challenge, wrong, deps=deps)
    with pytest.raises(InvalidMfaChallenge) as capped:
        mfa.verify(challenge, right, deps=deps)
    assert capped.value.details == {"reason": "attempts"}
    with pytest.raises(InvalidMfaChallenge):  # and stays dead
        mfa.verify(challenge, right, deps=deps)
    assert _session(deps, _login_challenge(deps), right).access_token  # the account is not locked: sign in again


def test_wrong_codes_are_throttled_per_account_across_challenges() -> None:
    deps, clock, secret, _ = _enabled()
    wrong = next(c for c in ("000000", "111111", "222222") if c not in {_code(secret, clock, d) for d in (-1, 0, 1)})
    limit, window = mfa.MFA_PER_USER
    clock.advance(window)  # the code that confirmed enrolment counted too: start with the whole budget
    tried = 0
    while tried < limit:  # new challenges (fresh logins from new IPs) do not reset the per-account budget
        challenge = _login_challenge(deps, ip=f"203.0.113.{tried}")
        for _ in range(min(MAX_ATTEMPTS - 1, limit - tried)):
            with pytest.raises(InvalidMfaCode):
                mfa.verify(challenge, wrong, deps=deps)
            tried += 1
    challenge = _login_challenge(deps, ip="203.0.113.250")
    with pytest.raises(TooManyRequests) as throttled:  # even the right code: the budget is spent
        mfa.verify(challenge, _code(secret, clock), deps=deps)
    assert 1 <= throttled.value.retry_after <= window
    clock.advance(window)
    assert _session(deps, _login_challenge(deps, ip="203.0.113.251"), _code(secret, clock)).access_token


def test_an_expired_challenge_is_refused() -> None:
    deps, clock, secret, _ = _enabled()
    challenge = _login_challenge(deps)
    clock.advance(CHALLENGE_TTL_S)
    with pytest.raises(InvalidMfaChallenge) as expired:
        mfa.verify(challenge, _code(secret, clock), deps=deps)
    assert expired.value.details == {"reason": "unknown"}


def test_an_unknown_challenge_is_refused() -> None:
    deps, clock, secret, _ = _enabled()
    with pytest.raises(InvalidMfaChallenge):
        mfa.verify("x" * 43, _code(secret, clock), deps=deps)


def test_a_recovery_code_completes_a_login_once() -> None:
    deps, _, _, recovery = _enabled()
    assert _session(deps, _login_challenge(deps), recovery[0]).access_token
    with pytest.raises(InvalidMfaCode):
        mfa.verify(_login_challenge(deps), recovery[0], deps=deps)
    # another one still works, typed in capitals without hyphens
    assert _session(deps, _login_challenge(deps), recovery[1].upper().replace("-", "")).access_token
    state = deps.mfa.state(EMAIL)
    assert state is not None and len(state.recovery_hashes) == 8
    with pytest.raises(InvalidMfaCode):  # a made-up code
        mfa.verify(_login_challenge(deps), "abcd-efgh-ijkl-mnop", deps=deps)
