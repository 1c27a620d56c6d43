"""Identity and protection over real HTTP against the local stack: the authorizer in front of protected routes,
revocation, and the plan rate limits (anonymous callers by IP at the free rate, a signed-in caller at its plan's)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from infra.local.template import read_app
from tests.e2e.conftest import Stack, request, session, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

PROTECTED = sorted((r.method, r.path) for r in read_app().routes if r.authorizer)


def test_the_template_protects_the_routes_that_need_a_user() -> None:
    paths = {path for _, path in PROTECTED}
    assert {"/auth/mfa/enroll", "/audit", "/audit/verify"} <= paths
    # personalisation reads or writes one user's history: always the signed-in caller's
    assert {"/me/presets", "/me/presets/{name}", "/interactions", "/math/collaborative-filter",
            "/math/ensemble-recommend"} <= paths  # fmt: skip
    assert not paths & {"/offers", "/auth/login", "/presets", "/presets/{name}"}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_protected_routes_refuse_a_caller_without_a_session(stack: Stack, method: str, path: str) -> None:
    cookie = stack.auth["Cookie"]
    for headers in ({}, {"Cookie": cookie}, {"Authorization": stack.auth["Authorization"]},
                    {"Authorization": "Bearer not-a-token", "Cookie": cookie}):  # fmt: skip
        status, body, hdrs = request(method, f"{stack.url}{path}", {} if method == "POST" else None, headers)
        assert (status, body["error"]["code"]) == (401, "unauthorized"), headers
        assert hdrs["WWW-Authenticate"].startswith("Bearer") and hdrs["X-Content-Type-Options"] == "nosniff"


def test_an_admin_session_reads_the_audit_log_and_a_plain_user_is_forbidden(stack: Stack) -> None:
    status, page = stack.get(f"{stack.url}/audit?limit=5")
    assert status == 200 and len(page["items"]) <= 5
    user = sign_in(stack.url, stack.state_file, plan="free", roles=("user",))
    status, body, hdrs = request("GET", f"{stack.url}/audit", headers=user)
    assert (status, body["error"]["code"], hdrs["X-Content-Type-Options"]) == (403, "forbidden", "nosniff")


def test_an_admin_verifies_the_audit_log_incrementally_and_from_genesis(stack: Stack) -> None:
    for query, mode in (("", "incremental"), ("?from=genesis", "genesis")):
        status, body = stack.get(f"{stack.url}/audit/verify{query}")
        assert status == 200 and body["ok"] is True and body["complete"] is True and body["mode"] == mode, body
        assert body["next_cursor"] is None and len(body["shards"]) == 8
    status, body = stack.get(f"{stack.url}/audit/verify?cursor=not-a-cursor")
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")


def test_logout_ends_the_session_for_protected_routes(stack: Stack) -> None:
    user, refresh_token = session(stack.url, stack.state_file, plan="free", roles=("user",))
    status, _, _ = request("POST", f"{stack.url}/auth/logout", {"refresh_token": refresh_token}, headers=user)
    assert status == 200
    # the access token is still unexpired and correctly signed: the authorizer's session check refuses it
    status, body, _ = request("POST", f"{stack.url}/auth/mfa/enroll", {}, headers=user)
    assert (status, body["error"]["code"]) == (401, "unauthorized")


def test_a_refused_refresh_says_the_same_whatever_the_reason(stack: Stack) -> None:
    """No fingerprint cookie, a revoked family, a garbage token: one 401 ``refresh_refused`` body (the reason is in
    the audit log only: tests/component/test_refresh_refusals.py), with nosniff as every answer has."""
    user, refresh_token = session(stack.url, stack.state_file, plan="free", roles=("user",))
    url = f"{stack.url}/auth/refresh"
    answers = [request("POST", url, {"refresh_token": refresh_token})]  # no cookie
    assert request("POST", f"{stack.url}/auth/logout", {"refresh_token": refresh_token}, headers=user)[0] == 200
    answers.append(request("POST", url, {"refresh_token": refresh_token}, headers={"Cookie": user["Cookie"]}))
    answers.append(request("POST", url, {"refresh_token": "x" * 40}, headers={"Cookie": user["Cookie"]}))
    assert {(status, body["error"]["code"], body["error"]["message"]) for status, body, _ in answers} == {
        (401, "refresh_refused", "the refresh token was refused; sign in again")
    }
    assert all(hdrs["X-Content-Type-Options"] == "nosniff" for _, _, hdrs in answers)


def test_twenty_concurrent_refreshes_with_one_token_give_exactly_one_session(stack: Stack) -> None:
    """The stack serves concurrent requests in parallel, each in an execution environment of its own, as Lambda
    does (tests/integration/test_local_runtime.py shows the overlap): the refresh token is spent by a conditional
    write, so one request wins and the other 19 are refused. The caller's access token puts it at its plan's
    rate, so the rate limit refuses none of them. A first burst of refused tokens brings the function's
    environments up, so that the real burst meets warm ones (cold starts would spread it out)."""
    user, refresh_token = session(stack.url, stack.state_file, plan="enterprise", roles=("user",))
    url = f"{stack.url}/auth/refresh"

    def burst(token: str) -> list[int]:
        start = threading.Barrier(20)

        def refresh(_: int) -> int:
            start.wait()
            return request("POST", url, {"refresh_token": token}, headers=user)[0]

        with ThreadPoolExecutor(20) as pool:
            return sorted(pool.map(refresh, range(20)))

    assert burst("x" * 40) == [401] * 20
    assert burst(refresh_token) == [200] + [401] * 19


def test_the_local_fronts_own_answers_say_nosniff(stack: Stack) -> None:
    for path in ("/openapi.json", "/nope"):
        status, _, hdrs = request("GET", f"{stack.url}{path}")
        assert status in {200, 404} and hdrs["X-Content-Type-Options"] == "nosniff", path


def test_a_signed_in_user_enrols_mfa(stack: Stack) -> None:
    headers = sign_in(stack.url, stack.state_file)
    status, body, _ = request("POST", f"{stack.url}/auth/mfa/enroll", {}, headers=headers)
    assert (status, body["error"]["code"]) == (422, "validation_error")  # a session alone: the password too (step-up)
    password: dict[str, object] = {"password": "correct horse battery staple"}  # what sign_in registered
    status, body, _ = request("POST", f"{stack.url}/auth/mfa/enroll", password, headers=headers)
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


def test_a_user_records_and_reads_only_their_own_personalisation(stack: Stack) -> None:
    """Interactions and the personalised presets act for the signed-in caller; a request cannot name another user."""
    user = sign_in(stack.url, stack.state_file, plan="free", roles=("user",))
    status, offers = stack.get(f"{stack.url}/offers?limit=1")
    offer_id = offers["items"][0]["offer_id"]
    status, recorded, _ = request("POST", f"{stack.url}/interactions", {"offer_id": offer_id, "kind": "save"}, user)
    assert status == 201 and recorded["offer_id"] == offer_id and recorded["user_id"].startswith("u_")
    forged = {"user_id": "someone-else", "offer_id": offer_id, "kind": "book"}
    status, body, _ = request("POST", f"{stack.url}/interactions", forged, user)
    assert (status, body["error"]["code"]) == (422, "validation_error")
    status, mine, _ = request("GET", f"{stack.url}/me/presets/for-you?limit=3", headers=user)
    assert status == 200 and mine["name"] == "for-you" and len(mine["items"]) == 3
    status, body, _ = request("POST", f"{stack.url}/math/collaborative-filter", {"user_id": "someone-else"}, user)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = stack.get(f"{stack.url}/presets/for-you?user_id=someone-else")
    assert (status, body["error"]["code"]) == (400, "unknown_parameter")
    found: list[dict[str, str]] = []  # the admin reads the interaction's audit entry
    url = f"{stack.url}/audit?limit=500"
    while url and not found:
        status, page = stack.get(url)
        found = [
            e for e in page["items"] if (e["action"], e["resource"]) == ("interaction.record", f"offer/{offer_id}")
        ]
        url = f"{stack.url}/audit?limit=500&cursor={quote(page['next_cursor'])}" if page.get("next_cursor") else ""
    assert found and found[0]["actor"] == f"user:{recorded['user_id']}" and found[0]["outcome"] == "ok"
