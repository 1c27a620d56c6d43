"""The Lambda authorizer with in-memory ports: a valid token from a live session is allowed with its principal;
every token of the negative matrix, a revoked session, and a request without a token are refused (401)."""

from __future__ import annotations

from typing import Any

import pytest

from gpubroker.domain.accounts import Principal
from gpubroker.domain.tokens import PublishedKeys, issue
from gpubroker.services.identity import IdentityDeps
from tests.component.conftest import handler_module
from tests.events import Ctx
from tests.fakes import FixedClock
from tests.fakes_auth import MemoryRefresh
from tests.unit.test_tokens import FP, MATRIX, NOW, POLICY, RING

AUTHORIZER = handler_module("authorizer")
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/GET/audit"


def _deps(sessions: MemoryRefresh | None = None) -> IdentityDeps:
    if sessions is None:
        sessions = MemoryRefresh()
        sessions.start_family("f1", "u1", 2_000_000_000)
    return IdentityDeps(
        keys=PublishedKeys.from_jwks(RING.jwks()), policy=POLICY, clock=FixedClock(NOW), sessions=sessions
    )


def _event(authorization: str | None, cookie: str | None = f"__Host-gpb_fgp={FP}") -> dict[str, Any]:
    headers = {k: v for k, v in {"Authorization": authorization, "Cookie": cookie}.items() if v is not None}
    return {"type": "REQUEST", "methodArn": METHOD_ARN, "resource": "/audit", "path": "/audit", "httpMethod": "GET",
            "headers": headers, "requestContext": {"stage": "dev", "apiId": "abc123"}}  # fmt: skip


def _token(**extra: Any) -> str:
    token, _ = issue("access", ring=RING, policy=POLICY, now=NOW, subject="u1", family="f1", fingerprint=FP,
                     extra={"plan": "pro", "roles": ["admin", "user"], **extra})  # fmt: skip
    return token


def _authorize(event: dict[str, Any], deps: IdentityDeps) -> dict[str, Any]:
    result: dict[str, Any] = AUTHORIZER.lambda_handler(event, Ctx(), deps)
    return result


def test_a_valid_token_is_allowed_on_every_route_with_its_principal_in_the_context() -> None:
    answer = _authorize(_event(f"Bearer {_token()}"), _deps())
    assert answer["principalId"] == "u1"
    (statement,) = answer["policyDocument"]["Statement"]
    # cached per token: the one answer must serve the caller's other protected routes too
    assert statement["Effect"] == "Allow" and statement["Resource"] == [
        "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/*/*"
    ]
    principal = Principal.from_context(answer["context"])
    assert principal == Principal(user_id="u1", plan="pro", roles=frozenset({"admin", "user"}), family="f1")
    assert all(isinstance(v, str) for v in answer["context"].values())  # API Gateway passes only flat values


@pytest.mark.parametrize("name", sorted(n for n, (_, kind, _, _) in MATRIX.items() if kind == "access"))
def test_every_bad_token_of_the_matrix_is_refused(name: str) -> None:
    token, _, fingerprint, _ = MATRIX[name]
    cookie = f"__Host-gpb_fgp={fingerprint}" if fingerprint else None
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(_event(f"Bearer {token}", cookie), _deps())


def test_a_token_of_a_revoked_session_is_refused() -> None:
    sessions = MemoryRefresh()
    sessions.start_family("f1", "u1", 2_000_000_000)
    token = _token()
    assert _authorize(_event(f"Bearer {token}"), _deps(sessions))["principalId"] == "u1"
    sessions.revoke_family("f1")  # logout, or a stolen refresh token came back
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(_event(f"Bearer {token}"), _deps(sessions))


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer  ", "Basic dXNlcjpwYXNz", "Token abc"])
def test_a_request_without_a_bearer_token_is_refused(authorization: str | None) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(_event(authorization), _deps())


def test_an_unknown_plan_claim_gives_the_free_plan_never_more() -> None:
    answer = _authorize(_event(f"Bearer {_token(plan='platinum')}"), _deps())
    assert answer["context"]["plan"] == "free"
