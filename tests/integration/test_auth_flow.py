"""The /auth functions end to end on the AWS-compatible endpoint (moto): the real handlers, DynamoDB conditional
writes, the signing keys bootstrapped in Secrets Manager, tokens checked against the published JWKS."""

from __future__ import annotations

import threading
from typing import Any

import jwt
import pytest

from gpubroker.adapters.keyring import ParameterPublicKeys
from gpubroker.wiring.auth import JwksDeps
from tests.fakes import UNLIMITED
from tests.integration.conftest import Endpoint, call_handler, wired_auth_deps

PASSWORD = "correct horse battery staple"


@pytest.fixture
def deps(endpoint: Endpoint) -> Any:
    return wired_auth_deps()


call = call_handler


def _cookie(headers: dict[str, Any]) -> str:
    raw = headers.get("Set-Cookie")
    first = raw[0] if isinstance(raw, list) else raw
    assert first and "HttpOnly" in first and "Secure" in first and "SameSite=Strict" in first
    return str(first.split(";")[0])


def test_register_login_refresh_logout_against_the_endpoint(deps: Any, endpoint: Endpoint) -> None:
    email = "grace@example.com"
    assert call("api_auth_register", "/auth/register", {"email": email, "password": PASSWORD}, deps)[:2] == (
        202, {"status": "accepted"})  # fmt: skip
    # the same answer for a taken email
    assert call("api_auth_register", "/auth/register", {"email": email, "password": PASSWORD + "!"}, deps)[0] == 202
    status, tokens, headers = call("api_auth_login", "/auth/login", {"email": email, "password": PASSWORD}, deps)
    assert status == 200 and tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    cookie = _cookie(headers)
    # the published JWKS (the public parameter the login's bootstrap wrote) verifies the access token
    jwks_deps = JwksDeps(keys=ParameterPublicKeys(endpoint.names["PublicKeysParameter"]), front_door=UNLIMITED)
    status, jwks, _ = call("api_jwks", "/.well-known/jwks.json", None, jwks_deps, method="GET")
    assert status == 200
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    public = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid)).key
    claims = jwt.decode(tokens["access_token"], public, algorithms=["RS256"], audience="gpubroker-api")
    assert claims["typ"] == "access" and claims["plan"] == "free"
    # wrong password and unknown account: one answer
    bad = call("api_auth_login", "/auth/login", {"email": email, "password": "x" * 12}, deps)
    unknown = call("api_auth_login", "/auth/login", {"email": "nobody@example.com", "password": "x" * 12}, deps)
    assert bad[0] == unknown[0] == 401 and bad[1] == unknown[1]
    # refresh needs the cookie
    assert call("api_auth_refresh", "/auth/refresh", {"refresh_token": tokens["refresh_token"]}, deps)[0] == 401
    status, rotated, _ = call("api_auth_refresh", "/auth/refresh", {"refresh_token": tokens["refresh_token"]}, deps,
                              cookie=cookie)  # fmt: skip
    assert status == 200 and rotated["refresh_token"] != tokens["refresh_token"]
    status, _, _ = call("api_auth_logout", "/auth/logout", {"refresh_token": rotated["refresh_token"]}, deps,
                        cookie=cookie)  # fmt: skip
    assert status == 200
    status, body, headers = call("api_auth_refresh", "/auth/refresh", {"refresh_token": rotated["refresh_token"]},
                                 deps, cookie=cookie)  # fmt: skip
    assert status == 401 and body["error"]["code"] == "refresh_refused"


def test_twenty_concurrent_refreshes_with_one_token_exactly_one_succeeds(deps: Any) -> None:
    email = "linus@example.com"
    call("api_auth_register", "/auth/register", {"email": email, "password": PASSWORD}, deps)
    _, tokens, headers = call("api_auth_login", "/auth/login", {"email": email, "password": PASSWORD}, deps)
    cookie = _cookie(headers)
    statuses: list[int] = []
    barrier = threading.Barrier(20)

    def go() -> None:
        barrier.wait()
        statuses.append(call("api_auth_refresh", "/auth/refresh", {"refresh_token": tokens["refresh_token"]}, deps,
                             cookie=cookie)[0])  # fmt: skip

    threads = [threading.Thread(target=go) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [401] * 19


def test_bad_input_is_a_4xx(deps: Any) -> None:
    assert call("api_auth_register", "/auth/register", {"email": "not-an-email", "password": PASSWORD}, deps)[0] == 422
    assert call("api_auth_register", "/auth/register", {"email": "a@b.io", "password": "short"}, deps)[0] == 422
    assert call("api_auth_login", "/auth/login", {"email": "a@b.io"}, deps)[0] == 422
    assert call("api_auth_refresh", "/auth/refresh", {"refresh_token": "x" * 30}, deps, cookie="a=b")[0] == 401
