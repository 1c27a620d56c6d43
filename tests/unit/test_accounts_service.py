"""Account lifecycle against in-memory ports (services.accounts, services.mfa's step-up): email verification, password
reset by email, MFA off and new recovery codes, the operator's role grant. Each rule with the attack it stops. The
handlers over the same rules: tests/component/test_account_handlers.py; against moto: tests/integration/
test_account_lifecycle.py."""

from __future__ import annotations

import threading
from typing import Any

import jwt
import pytest

from gpubroker.domain.accounts import User
from gpubroker.domain.errors import (
    AccountNotFound,
    EmailAlreadyVerified,
    InvalidCredentials,
    InvalidLink,
    InvalidMfaCode,
    MfaNotEnabled,
    RefreshRefused,
    StepUpFailed,
    TooManyRequests,
)
from gpubroker.domain.links import issue_link, verify_link
from gpubroker.domain.mfa import Challenge, code_at, step_at
from gpubroker.domain.tokens import KeyRing, new_signing_key
from gpubroker.domain.tokens import verify as verify_token
from gpubroker.services import accounts, auth, mfa
from tests.fakes import FixedClock
from tests.fakes_audit import MemoryAuditLog
from tests.fakes_auth import KEY, POLICY, NoSleep, Outbox, mail_world

EMAIL, PASSWORD, NEW_PASSWORD, IP = "ada@example.com", "correct horse battery", "a brand new passphrase", "203.0.113.9"


def _registered() -> tuple[auth.AuthDeps, FixedClock, Outbox, NoSleep]:
    deps, clock, outbox, pace = mail_world()
    auth.register(EMAIL, PASSWORD, deps=deps)
    return deps, clock, outbox, pace


def _user(deps: auth.AuthDeps) -> User:
    user = deps.users.by_email(EMAIL)
    assert user is not None
    return user


def _claims(session: auth.Session) -> dict[str, object]:
    return dict(session.claims)


# ---- email verification -----------------------------------------------------------------------------------------


def test_register_mails_a_verification_link_and_following_it_verifies_the_address() -> None:
    deps, _, outbox, _ = _registered()
    (to, subject, text), *_ = outbox.sent
    assert to == EMAIL and "Verify" in subject and "https://app.gpubroker.test/verify-email#token=" in text
    session = auth.login(EMAIL, PASSWORD, ip=IP, deps=deps)
    assert isinstance(session, auth.Session) and _claims(session)["email_verified"] is False
    assert accounts.verify_email(outbox.link_token(EMAIL), deps=deps) == _user(deps).user_id
    assert _user(deps).email_verified
    # the session says so from its next refresh: the claim every money route reads
    refreshed = auth.refresh(session.refresh_token, fingerprint=session.fingerprint, deps=deps)
    assert _claims(refreshed)["email_verified"] is True
    assert accounts.verify_email(outbox.link_token(EMAIL), deps=deps)  # idempotent: a second click is no error


def test_a_taken_email_gets_a_notice_instead_the_same_work_and_a_mail_outage_fails_no_registration() -> None:
    deps, _, outbox, _ = _registered()
    auth.register(EMAIL, "another long password", deps=deps)
    assert [s for _, s, _ in outbox.sent] == [
        "Verify your GPUBroker email address",
        "You already have a GPUBroker account",
    ]
    assert "#token=" not in outbox.sent[1][2]
    outbox.down = True
    auth.register("grace@example.com", PASSWORD, deps=deps)  # SES down: the account exists, a resend will do
    assert deps.users.by_email("grace@example.com") is not None


@pytest.mark.parametrize(
    "forge",
    ["expired", "other_key", "reset_purpose", "access_token", "tampered", "too_long_lived", "re_registered"],
)
def test_a_verification_link_that_is_not_ours_live_and_for_this_purpose_is_refused(forge: str) -> None:
    deps, clock, outbox, _ = _registered()
    user = _user(deps)
    token = outbox.link_token(EMAIL)
    if forge == "expired":
        clock.advance(24 * 3600 + 31)
    elif forge == "other_key":
        other = new_signing_key("test-key")  # same kid, another key: the signature does not verify
        token, _ = issue_link("verify_email", ring=KeyRing(active=other, published=(other,)), policy=POLICY,
                              now=clock.now(), user_id=user.user_id, email=EMAIL)  # fmt: skip
    elif forge == "reset_purpose":
        token, _ = issue_link("password_reset", ring=deps.keys.ring(), policy=POLICY, now=clock.now(),
                              user_id=user.user_id, email=EMAIL)  # fmt: skip
    elif forge == "access_token":
        token = auth.start_session(user, deps=deps).access_token
    elif forge == "tampered":
        claims = jwt.decode(token, options={"verify_signature": False})
        body = jwt.encode({**claims, "email": "mallory@example.com"}, "k" * 32, algorithm="HS256").split(".")[1]
        head, _, sig = token.split(".")
        token = f"{head}.{body}.{sig}"
    elif forge == "too_long_lived":
        claims = jwt.decode(token, options={"verify_signature": False})
        token = jwt.encode({**claims, "exp": claims["iat"] + 30 * 24 * 3600}, KEY.private_key, algorithm="RS256",
                           headers={"kid": KEY.kid, "typ": "ev+jwt"})  # fmt: skip
    elif forge == "re_registered":  # the account was removed and the address registered again: a new account
        store: Any = deps.users
        store.users[EMAIL] = User(user_id="u_someone_new", email=EMAIL, password_hash=user.password_hash)
    with pytest.raises(InvalidLink) as refused:
        accounts.verify_email(token, deps=deps)
    assert refused.value.code == "invalid_link" and refused.value.audit_reason
    assert not _user(deps).email_verified


def test_link_tokens_are_single_purpose_in_both_directions() -> None:
    deps, clock, outbox, _ = _registered()
    token = outbox.link_token(EMAIL)
    with pytest.raises(InvalidLink, match="not valid"):
        verify_link(token, "password_reset", ring=deps.keys.ring(), policy=POLICY, now=clock.now())
    from gpubroker.domain.errors import InvalidToken

    with pytest.raises(InvalidToken):  # nor does a link token pass as an access token
        verify_token(token, "access", ring=deps.keys.ring(), policy=POLICY, now=clock.now(), fingerprint="x")


def test_resend_mails_a_new_link_refuses_a_verified_address_and_is_throttled() -> None:
    deps, _, outbox, _ = _registered()
    uid = _user(deps).user_id
    for _ in range(accounts.VERIFY_SEND_PER_USER[0]):
        accounts.send_verification(uid, deps=deps)
    assert len(outbox.sent) == 1 + accounts.VERIFY_SEND_PER_USER[0]
    with pytest.raises(TooManyRequests):
        accounts.send_verification(uid, deps=deps)
    accounts.verify_email(outbox.link_token(EMAIL), deps=deps)
    with pytest.raises(EmailAlreadyVerified):
        accounts.send_verification(uid, deps=deps)


# ---- password reset -----------------------------------------------------------------------------------------------


def test_forgot_then_reset_sets_the_password_revokes_every_session_and_verifies_the_email() -> None:
    deps, _, outbox, pace = _registered()
    first = auth.login(EMAIL, PASSWORD, ip=IP, deps=deps)
    second = auth.login(EMAIL, PASSWORD, ip="198.51.100.1", deps=deps)
    assert isinstance(first, auth.Session) and isinstance(second, auth.Session)
    accounts.forgot_password(EMAIL.upper(), ip=IP, deps=deps)  # the address as typed: normalised
    to, subject, text = outbox.sent[-1]
    assert (to, subject) == (EMAIL, "Reset your GPUBroker password") and "/reset-password#token=" in text
    assert pace.slept and sum(pace.slept) == pytest.approx(accounts.FORGOT_FLOOR_S)
    assert accounts.reset_password(outbox.link_token(EMAIL), NEW_PASSWORD, deps=deps) == _user(deps).user_id
    for old in (first, second):  # every session of the account is over
        with pytest.raises(RefreshRefused):
            auth.refresh(old.refresh_token, fingerprint=old.fingerprint, deps=deps)
    with pytest.raises(InvalidCredentials):
        auth.login(EMAIL, PASSWORD, ip=IP, deps=deps)
    fresh = auth.login(EMAIL, NEW_PASSWORD, ip=IP, deps=deps)
    assert isinstance(fresh, auth.Session) and _claims(fresh)["email_verified"] is True  # the link proved the mailbox


def test_forgot_for_an_unknown_email_mails_nothing_writes_nothing_and_takes_as_long() -> None:
    deps, _, outbox, pace = _registered()
    before = len(outbox.sent)
    accounts.forgot_password("nobody@example.com", ip=IP, deps=deps)
    assert len(outbox.sent) == before and "nobody@example.com" not in deps.users.resets  # type: ignore[attr-defined]
    assert deps.users.by_email("nobody@example.com") is None
    assert sum(pace.slept) == pytest.approx(accounts.FORGOT_FLOOR_S)  # answered no sooner than a known address
    # and the throttles treat both alike: the 6th request for either address is a 429, answered at once (the
    # throttle reads nothing of the account)
    for n, address in enumerate((EMAIL, "nobody@example.com")):
        for _ in range(accounts.FORGOT_PER_EMAIL[0] - (1 if address != EMAIL else 0)):
            accounts.forgot_password(address, ip=f"{IP}{n}", deps=deps)
        slept = len(pace.slept)
        with pytest.raises(TooManyRequests):
            accounts.forgot_password(address, ip=f"{IP}{n}", deps=deps)
        assert len(pace.slept) == slept
    # per IP: 10 a minute, whatever the addresses
    for n in range(accounts.FORGOT_PER_IP[0]):
        accounts.forgot_password(f"someone{n}@example.com", ip="192.0.2.1", deps=deps)
    with pytest.raises(TooManyRequests) as refused:
        accounts.forgot_password("someone-else@example.com", ip="192.0.2.1", deps=deps)
    assert 1 <= refused.value.retry_after <= accounts.FORGOT_PER_IP[1]


def test_a_reset_link_works_once_and_a_newer_link_supersedes_it() -> None:
    deps, _, outbox, _ = _registered()
    accounts.forgot_password(EMAIL, ip=IP, deps=deps)
    older = outbox.link_token(EMAIL)
    accounts.forgot_password(EMAIL, ip=IP, deps=deps)
    newer = outbox.link_token(EMAIL)
    with pytest.raises(InvalidLink) as refused:
        accounts.reset_password(older, NEW_PASSWORD, deps=deps)  # superseded
    assert refused.value.audit_reason == "used"
    accounts.reset_password(newer, NEW_PASSWORD, deps=deps)
    with pytest.raises(InvalidLink):
        accounts.reset_password(newer, "yet another passphrase", deps=deps)  # used
    assert isinstance(auth.login(EMAIL, NEW_PASSWORD, ip=IP, deps=deps), auth.Session)


def test_an_expired_reset_link_is_refused_and_changes_nothing() -> None:
    deps, clock, outbox, _ = _registered()
    accounts.forgot_password(EMAIL, ip=IP, deps=deps)
    clock.advance(3600 + 31)
    with pytest.raises(InvalidLink) as refused:
        accounts.reset_password(outbox.link_token(EMAIL), NEW_PASSWORD, deps=deps)
    assert refused.value.audit_reason == "expired"
    assert isinstance(auth.login(EMAIL, PASSWORD, ip=IP, deps=deps), auth.Session)


def test_concurrent_resets_with_one_link_have_exactly_one_winner() -> None:
    deps, _, outbox, _ = _registered()
    accounts.forgot_password(EMAIL, ip=IP, deps=deps)
    token = outbox.link_token(EMAIL)
    wins: list[str] = []
    barrier = threading.Barrier(10)

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            accounts.reset_password(token, f"passphrase number {n:02d}", deps=deps)
            wins.append(f"passphrase number {n:02d}")
        except InvalidLink:
            pass

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and isinstance(auth.login(EMAIL, wins[0], ip=IP, deps=deps), auth.Session)


# ---- step-up: MFA enrolment, disabling, new recovery codes --------------------------------------------------------


def _with_mfa() -> tuple[auth.AuthDeps, FixedClock, str, tuple[str, ...]]:
    deps, clock, _, _ = _registered()
    uid = _user(deps).user_id
    started = mfa.enroll(uid, password=PASSWORD, deps=deps)
    done = mfa.verify(started.challenge.challenge_id, code_at(started.secret, step_at(clock.now())), deps=deps)
    assert isinstance(done, mfa.Activated)
    clock.advance(30)
    return deps, clock, started.secret, done.recovery_codes


def test_enrolment_needs_the_password() -> None:
    deps, _, _, _ = _registered()
    with pytest.raises(StepUpFailed):
        mfa.enroll(_user(deps).user_id, password="not the password", deps=deps)
    state = deps.mfa.state(EMAIL)
    assert state is not None and state.pending_secret is None and not deps.mfa.challenges  # type: ignore[attr-defined]


def test_disable_with_a_current_code_turns_mfa_off_and_login_needs_the_password_alone() -> None:
    deps, clock, secret, _ = _with_mfa()
    uid = _user(deps).user_id
    with pytest.raises(StepUpFailed):
        mfa.disable(uid, password=None, code="000000", deps=deps)
    with pytest.raises(StepUpFailed):
        mfa.disable(uid, password="wrong password!", code=None, deps=deps)
    assert _user(deps).mfa_enabled
    mfa.disable(uid, password=None, code=code_at(secret, step_at(clock.now())), deps=deps)
    assert not _user(deps).mfa_enabled
    state = deps.mfa.state(EMAIL)
    assert state is not None and state.secret is None and not state.recovery_hashes
    assert isinstance(auth.login(EMAIL, PASSWORD, ip=IP, deps=deps), auth.Session)
    with pytest.raises(MfaNotEnabled):
        mfa.disable(uid, password=PASSWORD, code=None, deps=deps)


def test_a_code_used_at_login_cannot_be_replayed_as_a_step_up() -> None:
    """Someone who watched a login (the code on the screen) and holds the session's access token cannot turn MFA
    off with that code: its step is spent."""
    deps, clock, secret, _ = _with_mfa()
    challenge = auth.login(EMAIL, PASSWORD, ip=IP, deps=deps)
    assert isinstance(challenge, Challenge)
    code = code_at(secret, step_at(clock.now()))
    assert isinstance(mfa.verify(challenge.challenge_id, code, deps=deps), auth.Session)
    with pytest.raises(StepUpFailed):
        mfa.disable(_user(deps).user_id, password=None, code=code, deps=deps)
    # and a code used for one step-up cannot be used again, for another change or the same one
    clock.advance(30)
    fresh = code_at(secret, step_at(clock.now()))
    mfa.regenerate_recovery_codes(_user(deps).user_id, password=None, code=fresh, deps=deps)
    with pytest.raises(StepUpFailed):
        mfa.disable(_user(deps).user_id, password=None, code=fresh, deps=deps)
    assert _user(deps).mfa_enabled


def test_new_recovery_codes_replace_the_old_ones_and_work_at_login() -> None:
    deps, _, _, old_codes = _with_mfa()
    uid = _user(deps).user_id
    new = mfa.regenerate_recovery_codes(uid, password=PASSWORD, code=None, deps=deps).recovery_codes
    assert len(new) == 10 and not set(new) & set(old_codes)
    challenge = auth.login(EMAIL, PASSWORD, ip=IP, deps=deps)
    assert isinstance(challenge, Challenge)
    with pytest.raises(InvalidMfaCode):
        mfa.verify(challenge.challenge_id, old_codes[0], deps=deps)
    assert isinstance(mfa.verify(challenge.challenge_id, new[0], deps=deps), auth.Session)


def test_step_up_is_throttled_per_account() -> None:
    deps, _, _, _ = _with_mfa()
    uid = _user(deps).user_id
    for _ in range(mfa.STEP_UP_PER_USER[0] - 1):  # the enrolment's proof counted too
        with pytest.raises(StepUpFailed):
            mfa.disable(uid, password="guess guess guess", code=None, deps=deps)
    with pytest.raises(TooManyRequests):
        mfa.disable(uid, password=PASSWORD, code=None, deps=deps)  # even the right one, until the window passes
    assert _user(deps).mfa_enabled


def test_recovery_codes_need_mfa_on() -> None:
    deps, _, _, _ = _registered()
    with pytest.raises(MfaNotEnabled):
        mfa.regenerate_recovery_codes(_user(deps).user_id, password=PASSWORD, code=None, deps=deps)


# ---- the operator's role grant ------------------------------------------------------------------------------------


def test_grant_role_makes_an_admin_and_audits_every_attempt() -> None:
    deps, _, _, _ = _registered()
    log = MemoryAuditLog()
    ops = accounts.OperatorDeps(users=deps.users, log=log)
    user = accounts.grant_role(" Ada@Example.com ", "admin", operator="alice", request_id="r1", deps=ops)
    assert set(user.roles) == {"admin", "user"}
    with pytest.raises(AccountNotFound):
        accounts.grant_role("nobody@example.com", "admin", operator="alice", request_id="r2", deps=ops)
    with pytest.raises(ValueError, match="unknown role"):
        accounts.grant_role(EMAIL, "root", operator="alice", request_id="r3", deps=ops)
    entries = [e for n in range(log.shards) for e in log.all_entries(n)]
    assert sorted((e.actor, e.action, e.outcome) for e in entries) == [
        ("operator:alice", "account.grant_role", "ok"),
        ("operator:alice", "account.grant_role", "refused:404"),
        ("operator:alice", "account.grant_role", "refused:422:role"),
    ]
    session = auth.start_session(_user(deps), deps=deps)  # the next session carries the role
    assert "admin" in _claims(session)["roles"]  # type: ignore[operator]
