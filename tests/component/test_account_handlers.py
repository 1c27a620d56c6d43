"""The account-lifecycle routes with real API Gateway events and in-memory ports: each route's happy path, its
refusals with their status and code, no write on bad input, the audit entry of each request (with the reason a
refused link's client is not told), and the ``require_verified_email`` guard fed by the real authorizer. The rules
themselves: tests/unit/test_accounts_service.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gpubroker.api.deps import ApiDeps
from gpubroker.api.identity import require_verified_email
from gpubroker.api.resolver import api_handler, new_resolver
from gpubroker.domain.accounts import Principal
from gpubroker.domain.errors import AccountNotFound
from gpubroker.domain.mfa import code_at, step_at
from gpubroker.domain.tokens import PublishedKeys
from gpubroker.services import auth, mfa
from gpubroker.services.accounts import OperatorDeps
from gpubroker.services.identity import IdentityDeps
from tests.component.conftest import handler_module
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED
from tests.fakes_audit import MemoryAuditLog
from tests.fakes_auth import auth_api, mail_world

EMAIL, PASSWORD, NEW_PASSWORD = "ada@example.com", "correct horse battery", "a brand new passphrase"


class World:
    def __init__(self) -> None:
        self.deps, self.clock, self.outbox, self.pace = mail_world()
        self.audit = MemoryAuditLog()
        auth.register(EMAIL, PASSWORD, deps=self.deps)
        user = self.deps.users.by_email(EMAIL)
        assert user is not None
        self.me = Principal(user_id=user.user_id)

    def call(self, name: str, path: str, body: dict[str, Any] | None, *, signed_in: bool = False,
             raw: str | None = None) -> tuple[int, dict[str, Any], dict[str, Any]]:  # fmt: skip
        ev = rest_event(path, path)
        ev["httpMethod"] = "POST"
        ev["body"] = raw if raw is not None else (json.dumps(body) if body is not None else None)
        ev["headers"] = {"Content-Type": "application/json"}
        if signed_in:
            ev["requestContext"]["authorizer"] = self.me.to_context()
        res = handler_module(name).lambda_handler(ev, Ctx(), deps=auth_api(self.deps, self.audit))
        multi = {k: v[-1] if len(v) == 1 else v for k, v in (res.get("multiValueHeaders") or {}).items()}
        return int(res["statusCode"]), json.loads(res["body"]), {**res.get("headers", {}), **multi}

    def outcomes(self, action: str) -> list[str]:
        entries = sorted((e for n in range(self.audit.shards) for e in self.audit.all_entries(n)), key=lambda e: e.ts)
        return [e.outcome for e in entries if e.action == action]

    def verified(self) -> bool:
        user = self.deps.users.by_email(EMAIL)
        return bool(user and user.email_verified)


@pytest.fixture
def world() -> World:
    return World()


def test_verify_email_routes(world: World) -> None:
    assert world.call("api_auth_verify_email_send", "/auth/verify-email/send", None)[0] == 401
    status, body, _ = world.call("api_auth_verify_email_send", "/auth/verify-email/send", None, signed_in=True)
    assert (status, body) == (202, {"status": "verification_sent"}) and len(world.outbox.sent) == 2
    token = world.outbox.link_token(EMAIL)
    # malformed (not a JWS): request validation, nothing reaches the service
    status, body, _ = world.call("api_auth_verify_email", "/auth/verify-email", {"token": "not a token at all!"})
    assert (status, body["error"]["code"]) == (422, "validation_error") and not world.verified()
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    status, body, _ = world.call("api_auth_verify_email", "/auth/verify-email", {"token": forged})
    assert (status, body["error"]["code"]) == (400, "invalid_link") and body["error"]["details"] is None
    assert not world.verified()
    status, body, _ = world.call("api_auth_verify_email", "/auth/verify-email", {"token": token})
    assert (status, body["status"]) == (200, "email_verified") and world.verified()
    status, body, _ = world.call("api_auth_verify_email_send", "/auth/verify-email/send", None, signed_in=True)
    assert (status, body["error"]["code"]) == (409, "email_already_verified")
    assert world.outcomes("auth.verify_email") == ["refused:400:signature", "ok"]  # the reason: audit only
    assert world.outcomes("auth.verify_email.send") == ["refused:401", "ok", "refused:409"]


def test_verify_email_send_answers_503_when_ses_refuses(world: World) -> None:
    world.outbox.down = True
    status, body, _ = world.call("api_auth_verify_email_send", "/auth/verify-email/send", None, signed_in=True)
    assert (status, body["error"]["code"]) == (503, "mail_unavailable")


def test_forgot_answers_the_same_for_any_address_and_reset_uses_the_link_once(world: World) -> None:
    session = auth.login(EMAIL, PASSWORD, ip="203.0.113.1", deps=world.deps)
    assert isinstance(session, auth.Session)
    answers = [world.call("api_auth_password_forgot", "/auth/password/forgot", {"email": e})[:2]
               for e in ("nobody@example.com", EMAIL)]  # fmt: skip
    assert answers == [(202, {"status": "accepted"})] * 2
    assert world.pace.slept == [pytest.approx(1.0)] * 2  # both held to the floor
    assert [to for to, subject, _ in world.outbox.sent if "Reset" in subject] == [EMAIL]
    status, body, _ = world.call("api_auth_password_forgot", "/auth/password/forgot", {"email": "not-an-email"})
    assert (status, body["error"]["code"]) == (422, "validation_error")
    token = world.outbox.link_token(EMAIL)
    # a new password that fails validation: 422 and nothing written (the link still works afterwards)
    status, body, _ = world.call(
        "api_auth_password_reset", "/auth/password/reset", {"token": token, "password": "short"}
    )
    assert (status, body["error"]["code"]) == (422, "validation_error")
    status, body, _ = world.call("api_auth_password_reset", "/auth/password/reset",
                                 {"token": token, "password": NEW_PASSWORD, "extra": 1})  # fmt: skip
    assert status == 422
    assert isinstance(auth.login(EMAIL, PASSWORD, ip="203.0.113.2", deps=world.deps), auth.Session)
    status, body, _ = world.call("api_auth_password_reset", "/auth/password/reset",
                                 {"token": token, "password": NEW_PASSWORD})  # fmt: skip
    assert (status, body["status"]) == (200, "password_reset")
    status, body, _ = world.call("api_auth_password_reset", "/auth/password/reset",
                                 {"token": token, "password": "yet another passphrase"})  # fmt: skip
    assert (status, body["error"]["code"]) == (400, "invalid_link")
    assert world.deps.refresh.family_revoked(str(session.claims["fam"]))
    assert world.outcomes("auth.password.reset") == ["ok", "refused:400:used"]
    assert world.outcomes("auth.password.forgot") == ["ok", "ok"]


def test_reset_refuses_an_expired_link(world: World) -> None:
    world.call("api_auth_password_forgot", "/auth/password/forgot", {"email": EMAIL})
    world.clock.advance(3600 + 31)
    status, body, _ = world.call("api_auth_password_reset", "/auth/password/reset",
                                 {"token": world.outbox.link_token(EMAIL), "password": NEW_PASSWORD})  # fmt: skip
    assert (status, body["error"]["code"]) == (400, "invalid_link")
    assert world.outcomes("auth.password.reset") == ["refused:400:expired"]


def _enable_mfa(world: World) -> str:
    started = mfa.enroll(world.me.user_id, password=PASSWORD, deps=world.deps)
    done = mfa.verify(started.challenge.challenge_id, code_at(started.secret, step_at(world.clock.now())),
                      deps=world.deps)  # fmt: skip
    assert isinstance(done, mfa.Activated)
    world.clock.advance(30)
    return started.secret


@pytest.mark.parametrize("route", ["/auth/mfa/disable", "/auth/mfa/recovery-codes"])
def test_the_step_up_routes_refuse_without_a_fresh_proof(world: World, route: str) -> None:
    name = "api_auth_mfa_disable" if route.endswith("disable") else "api_auth_mfa_recovery_codes"
    status, body, _ = world.call(name, route, {"password": PASSWORD}, signed_in=True)
    assert (status, body["error"]["code"]) == (409, "mfa_not_enabled")
    secret = _enable_mfa(world)
    assert world.call(name, route, {"password": PASSWORD})[0] == 401
    for refused in (None, {}, {"password": PASSWORD, "code": "123456"}, {"code": "12345a"}):
        status, body, _ = world.call(name, route, refused, signed_in=True)
        assert (status, body["error"]["code"]) == (422, "validation_error"), refused
    status, body, _ = world.call(name, route, {"password": "not the password"}, signed_in=True)
    assert (status, body["error"]["code"]) == (403, "step_up_failed")
    used = code_at(secret, step_at(world.clock.now()) - 1)  # the enrolment's confirming code: spent
    status, body, _ = world.call(name, route, {"code": used}, signed_in=True)
    assert (status, body["error"]["code"]) == (403, "step_up_failed")
    state = world.deps.mfa.state(EMAIL)
    assert state is not None and state.enabled and len(state.recovery_hashes) == 10  # nothing changed
    status, body, headers = world.call(name, route, {"code": code_at(secret, step_at(world.clock.now()))},
                                       signed_in=True)  # fmt: skip
    assert status == 200
    if name == "api_auth_mfa_disable":
        assert body == {"status": "mfa_disabled"} and not world.deps.mfa.state(EMAIL).enabled  # type: ignore[union-attr]
    else:
        assert len(body["recovery_codes"]) == 10 and headers["Cache-Control"] == "no-store"
    action = "auth.mfa.disable" if name == "api_auth_mfa_disable" else "auth.mfa.recovery_codes"
    assert world.outcomes(action) == ["refused:409", "refused:401", "refused:403", "refused:403", "ok"]


# ---- the guard of the routes that cost money ---------------------------------------------------------------------

guarded = new_resolver()


@guarded.post("/_guarded")
def _costs_money() -> dict[str, str]:
    return {"user_id": require_verified_email(guarded).user_id}


def _through_the_authorizer(world: World, session: auth.Session) -> dict[str, Any]:
    """The real authorizer's context for ``session``'s access token (what API Gateway hands a protected route)."""
    ring = world.deps.keys.ring()
    identity = IdentityDeps(keys=PublishedKeys.from_jwks(ring.jwks()), policy=world.deps.policy, clock=world.clock,
                            sessions=world.deps.refresh)  # fmt: skip
    event = {"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc/dev/POST/_guarded",
             "headers": {"Authorization": f"Bearer {session.access_token}",
                         "Cookie": f"__Host-gpb_fgp={session.fingerprint}"},
             "requestContext": {"stage": "dev", "apiId": "abc"}}  # fmt: skip
    answer: dict[str, Any] = handler_module("authorizer").lambda_handler(event, Ctx(), identity)
    return dict(answer["context"])


def _guarded_call(context: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
    ev = rest_event("/_guarded", "/_guarded")
    ev["httpMethod"] = "POST"
    if context is not None:
        ev["requestContext"]["authorizer"] = context
    res = api_handler(guarded, lambda: ApiDeps(front_door=UNLIMITED))(ev, Ctx(), deps=ApiDeps(front_door=UNLIMITED))
    return int(res["statusCode"]), json.loads(res["body"])


def test_require_verified_email_refuses_until_the_session_says_the_address_is_verified(world: World) -> None:
    session = auth.login(EMAIL, PASSWORD, ip="203.0.113.3", deps=world.deps)
    assert isinstance(session, auth.Session)
    assert _guarded_call(None)[0] == 401
    status, body = _guarded_call(_through_the_authorizer(world, session))
    assert (status, body["error"]["code"]) == (403, "email_not_verified")
    assert (
        world.call("api_auth_verify_email", "/auth/verify-email", {"token": world.outbox.link_token(EMAIL)})[0] == 200
    )
    status, body = _guarded_call(_through_the_authorizer(world, session))
    assert status == 403  # the old token still says unverified: refresh for one that says otherwise
    fresh = auth.refresh(session.refresh_token, fingerprint=session.fingerprint, deps=world.deps)
    assert _guarded_call(_through_the_authorizer(world, fresh)) == (200, {"user_id": world.me.user_id})


# ---- the operator command -----------------------------------------------------------------------------------------


def test_admin_grant_role_function_grants_and_audits(world: World) -> None:
    log = MemoryAuditLog()
    ops = OperatorDeps(users=world.deps.users, log=log)
    handler = handler_module("admin_grant_role").lambda_handler
    result = handler({"email": EMAIL, "operator": "alice"}, Ctx(), ops)
    assert result == {"user_id": world.me.user_id, "email": EMAIL, "roles": ["admin", "user"]}
    with pytest.raises(AccountNotFound):
        handler({"email": "nobody@example.com", "operator": "alice"}, Ctx(), ops)
    with pytest.raises(ValueError, match="event must be"):
        handler({"mail": EMAIL}, Ctx(), ops)
    entries = [e for n in range(log.shards) for e in log.all_entries(n)]
    assert sorted(e.outcome for e in entries) == ["ok", "refused:404"]
    assert {e.actor for e in entries} == {"operator:alice"} and any(
        e.resource == f"user/{world.me.user_id}" for e in entries
    )
