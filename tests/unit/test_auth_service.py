"""Accounts and sessions against in-memory ports: each rule with the attack it stops."""

from __future__ import annotations

import threading

import pytest

from gpubroker.domain.errors import InvalidCredentials, InvalidToken, RefreshRefused, TooManyRequests
from gpubroker.domain.tokens import REFRESH_TTL_S, verify
from gpubroker.services import auth
from tests.fakes_auth import auth_world


def _tokens(result: object) -> auth.Session:
    assert isinstance(result, auth.Session)  # no MFA on these accounts: login hands out tokens
    return result


def _session(
    email: str = "Ada@Example.com", password: str = "correct horse battery"
) -> tuple[auth.AuthDeps, auth.Session]:
    deps, _ = auth_world()
    auth.register(email, password, deps=deps)
    return deps, _tokens(auth.login(email, password, ip="198.51.100.7", deps=deps))


def test_login_issues_an_access_token_bound_to_the_cookie_fingerprint() -> None:
    deps, s = _session()
    claims = verify(s.access_token, "access", ring=deps.keys.ring(), policy=deps.policy, now=deps.clock.now(),
                    fingerprint=s.fingerprint)  # fmt: skip
    assert claims["plan"] == "free" and claims["roles"] == ["user"] and s.access_expires_in == 900
    with pytest.raises(InvalidToken):  # the token alone, without the cookie, is useless
        verify(s.access_token, "access", ring=deps.keys.ring(), policy=deps.policy, now=deps.clock.now(),
               fingerprint=None)  # fmt: skip


def test_no_user_enumeration_unknown_email_and_wrong_password_look_the_same() -> None:
    deps, _ = _session()
    with pytest.raises(InvalidCredentials) as unknown:
        auth.login("nobody@example.com", "correct horse battery", ip="198.51.100.7", deps=deps)
    with pytest.raises(InvalidCredentials) as wrong:
        auth.login("ada@example.com", "wrong password!", ip="198.51.100.8", deps=deps)
    assert (unknown.value.message, unknown.value.code) == (wrong.value.message, wrong.value.code)


def test_registering_a_taken_email_changes_nothing_and_answers_the_same() -> None:
    deps, _ = _session()
    before = deps.users.by_email("ada@example.com")
    auth.register("ADA@example.com", "another password", deps=deps)
    assert deps.users.by_email("ada@example.com") == before


def test_login_attempts_are_throttled_per_account_and_per_ip() -> None:
    deps, clock = auth_world()
    auth.register("ada@example.com", "correct horse battery", deps=deps)
    for i in range(auth.LOGIN_PER_ACCOUNT[0]):
        with pytest.raises(InvalidCredentials):
            auth.login("ada@example.com", "guess", ip=f"203.0.113.{i}", deps=deps)  # a botnet, one IP per guess
    with pytest.raises(TooManyRequests) as err:
        auth.login("ada@example.com", "correct horse battery", ip="203.0.113.200", deps=deps)
    assert err.value.retry_after >= 1
    clock.advance(auth.LOGIN_PER_ACCOUNT[1])
    assert _tokens(auth.login("ada@example.com", "correct horse battery", ip="203.0.113.200", deps=deps)).access_token
    # one IP spraying many accounts
    for i in range(auth.LOGIN_PER_IP[0]):
        with pytest.raises(InvalidCredentials):
            auth.login(f"user{i}@example.com", "guess", ip="192.0.2.1", deps=deps)
    with pytest.raises(TooManyRequests):
        auth.login("ada@example.com", "correct horse battery", ip="192.0.2.1", deps=deps)


def test_refresh_rotates_and_a_reused_token_revokes_the_whole_family() -> None:
    deps, s1 = _session()
    s2 = auth.refresh(s1.refresh_token, fingerprint=s1.fingerprint, deps=deps)
    assert s2.refresh_token != s1.refresh_token and s2.fingerprint == s1.fingerprint
    s3 = auth.refresh(s2.refresh_token, fingerprint=s1.fingerprint, deps=deps)
    with pytest.raises(RefreshRefused) as reused:  # a thief replays the first token
        auth.refresh(s1.refresh_token, fingerprint=s1.fingerprint, deps=deps)
    assert reused.value.audit_reason == "reused"
    with pytest.raises(RefreshRefused) as revoked:  # ...and the legitimate holder's newest token dies too
        auth.refresh(s3.refresh_token, fingerprint=s1.fingerprint, deps=deps)
    assert revoked.value.audit_reason == "revoked"


def test_refresh_needs_the_fingerprint_and_refuses_an_access_token() -> None:
    deps, s = _session()
    with pytest.raises(RefreshRefused) as missing:
        auth.refresh(s.refresh_token, fingerprint=None, deps=deps)
    with pytest.raises(RefreshRefused) as wrong:
        auth.refresh(s.refresh_token, fingerprint="stolen-token-other-browser", deps=deps)
    with pytest.raises(RefreshRefused) as access:
        auth.refresh(s.access_token, fingerprint=s.fingerprint, deps=deps)
    reasons = (missing.value.audit_reason, wrong.value.audit_reason, access.value.audit_reason)
    assert reasons == ("fingerprint_missing", "fingerprint", "type")


def test_every_refresh_refusal_tells_the_client_the_same_thing() -> None:
    """The reason is for the audit log only: a specific code would tell the holder of a stolen refresh token
    that it is otherwise valid (issue 11)."""
    deps, s = _session()
    refusals = []
    for token, fingerprint in ((s.refresh_token, None), (s.refresh_token, "other"), ("x" * 40, s.fingerprint)):
        with pytest.raises(RefreshRefused) as refused:
            auth.refresh(token, fingerprint=fingerprint, deps=deps)
        refusals.append(refused.value)
    assert len({r.audit_reason for r in refusals}) == 3
    assert {(r.code, r.message, r.details) for r in refusals} == {
        ("refresh_refused", "the refresh token was refused; sign in again", None)
    }


def test_logout_refuses_a_token_exactly_as_refresh_does() -> None:
    """Logout takes a refresh token too: its refusals say no more than refresh's (the reason to the audit only)."""
    deps, s = _session()
    refusals = []
    for token, fingerprint in ((s.refresh_token, None), (s.refresh_token, "other"), ("x" * 40, s.fingerprint)):
        with pytest.raises(RefreshRefused) as refused:
            auth.logout(token, fingerprint=fingerprint, deps=deps)
        refusals.append(refused.value)
    assert [r.audit_reason for r in refusals] == ["fingerprint_missing", "fingerprint", "malformed"]
    assert {(r.code, r.message, r.details) for r in refusals} == {
        ("refresh_refused", "the refresh token was refused; sign in again", None)
    }
    auth.refresh(s.refresh_token, fingerprint=s.fingerprint, deps=deps)  # nothing was revoked by the refusals


def test_the_family_ends_seven_days_after_login_however_often_it_rotates() -> None:
    deps, clock = auth_world()
    auth.register("ada@example.com", "correct horse battery", deps=deps)
    s = _tokens(auth.login("ada@example.com", "correct horse battery", ip="198.51.100.7", deps=deps))
    for _ in range(6):
        clock.advance(24 * 3600)
        s = auth.refresh(s.refresh_token, fingerprint=s.fingerprint, deps=deps)
    assert s.refresh_expires_in == 24 * 3600  # what is left of the 7 days, not 7 fresh days
    clock.advance(24 * 3600 + 31)
    with pytest.raises(RefreshRefused) as err:
        auth.refresh(s.refresh_token, fingerprint=s.fingerprint, deps=deps)
    assert err.value.audit_reason == "expired"
    assert REFRESH_TTL_S == 7 * 24 * 3600


def test_logout_revokes_the_family() -> None:
    deps, s = _session()
    auth.logout(s.refresh_token, fingerprint=s.fingerprint, deps=deps)
    with pytest.raises(RefreshRefused):
        auth.refresh(s.refresh_token, fingerprint=s.fingerprint, deps=deps)


def test_twenty_concurrent_refreshes_with_one_token_let_exactly_one_succeed() -> None:
    deps, s = _session()
    results: list[str] = []
    barrier = threading.Barrier(20)

    def go() -> None:
        barrier.wait()
        try:
            auth.refresh(s.refresh_token, fingerprint=s.fingerprint, deps=deps)
            results.append("ok")
        except RefreshRefused as exc:
            results.append(str(exc.audit_reason))

    threads = [threading.Thread(target=go) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1 and len(results) == 20


def test_refresh_carries_the_plan_and_roles_the_account_has_now() -> None:
    import dataclasses

    deps, s = _session()
    users = deps.users.users  # type: ignore[attr-defined]
    users["ada@example.com"] = dataclasses.replace(users["ada@example.com"], plan="pro", roles=("admin", "user"))
    fresh = auth.refresh(s.refresh_token, fingerprint=s.fingerprint, deps=deps)
    claims = verify(fresh.access_token, "access", ring=deps.keys.ring(), policy=deps.policy, now=deps.clock.now(),
                    fingerprint=fresh.fingerprint)  # fmt: skip
    assert (claims["plan"], claims["roles"]) == ("pro", ["admin", "user"])


def test_refresh_for_a_deleted_account_is_refused_and_ends_the_session() -> None:
    deps, s = _session()
    deps.users.users.clear()  # type: ignore[attr-defined]
    with pytest.raises(RefreshRefused) as refused:
        auth.refresh(s.refresh_token, fingerprint=s.fingerprint, deps=deps)
    assert refused.value.audit_reason == "no_account"
    assert deps.refresh.family_revoked(str(verify(s.refresh_token, "refresh", ring=deps.keys.ring(),
                                                  policy=deps.policy, now=deps.clock.now(),
                                                  fingerprint=s.fingerprint)["fam"]))  # fmt: skip
