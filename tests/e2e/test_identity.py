"""Identity and protection over real HTTP against the local stack: the authorizer in front of protected routes,
revocation, and the plan rate limits (anonymous callers by IP at the free rate, a signed-in caller at its plan's)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from infra.local.template import read_app
from tests.e2e.conftest import Stack, request, session, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

PROTECTED = sorted((r.method, r.path) for r in read_app().routes if r.authorizer)


def test_the_template_protects_the_routes_that_need_a_user() -> None:
    paths = {path for _, path in PROTECTED}
    assert {"/auth/mfa/enroll", "/audit", "/audit/verify"} <= paths
    assert "/offers" not in paths and "/auth/login" not in paths


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_protected_routes_refuse_a_caller_without_a_session(stack: Stack, method: str, path: str) -> None:
    cookie = stack.auth["Cookie"]
    for headers in ({}, {"Cookie": cookie}, {"Authorization": stack.auth["Authorization"]},
                    {"Authorization": "Bearer not-a-token", "Cookie": cookie}):  # fmt: skip
        status, body, hdrs = request(method, f"{stack.url}{path}", {} if method == "POST" else None, headers)
        assert (status, body["error"]["code"]) == (401, "unauthorized"), headers
        assert hdrs["WWW-Authenticate"].startswith("Bearer")


def test_an_admin_session_reads_the_audit_log_and_a_plain_user_is_forbidden(stack: Stack) -> None:
    status, page = stack.get(f"{stack.url}/audit?limit=5")
    assert status == 200 and len(page["items"]) <= 5
    user = sign_in(stack.url, stack.state_file, plan="free", roles=("user",))
    status, body, _ = request("GET", f"{stack.url}/audit", headers=user)
    assert (status, body["error"]["code"]) == (403, "forbidden")


def test_logout_ends_the_session_for_protected_routes(stack: Stack) -> None:
    user, refresh_token = session(stack.url, stack.state_file, plan="free", roles=("user",))
    status, _, _ = request("POST", f"{stack.url}/auth/logout", {"refresh_token": refresh_token}, headers=user)
    assert status == 200
    # the access token is still unexpired and correctly signed: the authorizer's session check refuses it
    status, body, _ = request("POST", f"{stack.url}/auth/mfa/enroll", {}, headers=user)
    assert (status, body["error"]["code"]) == (401, "unauthorized")


def test_a_signed_in_user_enrols_mfa(stack: Stack) -> None:
    status, body, _ = request("POST", f"{stack.url}/auth/mfa/enroll", {}, headers=sign_in(stack.url, stack.state_file))
    assert status == 200 and body["otpauth_uri"].startswith("otpauth://totp/")


def test_anonymous_callers_are_limited_by_ip_at_the_free_rate(stack: Stack) -> None:
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: request("GET", f"{stack.url}/health"), range(40)))
    refused = [a for a in answers if a[0] == 429]
    assert refused, "40 anonymous requests at once must exceed 10/s"
    for _, body, headers in refused:
        assert body["error"]["code"] == "rate_limited" and int(headers["Retry-After"]) >= 1
        assert headers["RateLimit-Policy"] == '"default";q=10;w=1'
    ok = next(a for a in answers if a[0] == 200)
    assert ok[2]["RateLimit-Policy"] == '"default";q=10;w=1'


def test_a_signed_in_caller_gets_its_plan_rate_on_public_routes(stack: Stack) -> None:
    status, _, headers = request("GET", f"{stack.url}/health", headers=stack.auth)
    assert status == 200 and headers["RateLimit-Policy"] == '"default";q=1000;w=1'
