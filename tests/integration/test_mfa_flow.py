"""TOTP MFA end to end on the AWS-compatible endpoint (moto): the real handlers and their default wiring, the
AuthTable built from template.yaml (its ByUserId index finds the signed-in caller's profile), DynamoDB's
conditional writes refusing replays, recovery codes stored hashed on the profile item."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError

from gpubroker.adapters import aws
from gpubroker.adapters.ratelimit import MemoryRateLimiter
from gpubroker.adapters.secretbox import KmsSecretBox
from gpubroker.domain.accounts import Principal
from gpubroker.domain.mfa import CHALLENGE_TTL_S, code_at, step_at
from tests.events import Ctx, rest_event
from tests.fakes import FixedClock, Unlimited
from tests.integration.conftest import Endpoint, fresh_handler, wired_auth_deps

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("aws")]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def deps(endpoint: Endpoint) -> Any:
    d = wired_auth_deps()
    d.auth.clock = FixedClock(datetime.now(UTC).replace(microsecond=0))  # TOTP steps move only when the test says
    d.auth.throttle = MemoryRateLimiter(lambda: d.auth.clock.now().timestamp())  # the wired limiter, on that clock
    return d


@pytest.fixture
def atomic_conditional_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """DynamoDB evaluates a condition and writes atomically per item; moto 5.x reads the item, evaluates the
    condition, then writes, with no lock, so under its threaded server two conditional updates of one item can
    both succeed. Give moto's in-process backend DynamoDB's atomicity (one lock around every write), so the race
    tests measure our conditions, not moto's race. Against a real endpoint (``AWS_ENDPOINT_URL``) it is inert.
    The same approach as tests/integration/test_audit_dynamo.py."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)
    yield


def call(
    module: str, path: str, body: dict[str, Any] | None, deps: Any, *, cookie: str | None = None,
    principal: Principal | None = None, ip: str = "198.51.100.7",
) -> tuple[int, dict[str, Any], dict[str, Any]]:  # fmt: skip
    ev = rest_event(path, path)
    ev["httpMethod"] = "POST"
    ev["body"] = json.dumps(body) if body is not None else None
    ev["headers"] = {"Content-Type": "application/json", **({"Cookie": cookie} if cookie else {})}
    ev["multiValueHeaders"] = {k: [v] for k, v in ev["headers"].items()}
    ev["requestContext"]["identity"]["sourceIp"] = ip
    if principal is not None:  # what the UserAuthorizer hands a protected route
        ev["requestContext"]["authorizer"] = principal.to_context()
    res = fresh_handler(module).lambda_handler(ev, Ctx(), deps=deps)
    multi = {k: v[-1] if len(v) == 1 else v for k, v in (res.get("multiValueHeaders") or {}).items()}
    headers = {**res.get("headers", {}), **multi}
    return int(res["statusCode"]), json.loads(res["body"]), headers


def _profile(endpoint: Endpoint, email: str) -> dict[str, Any]:
    item = aws.client("dynamodb").get_item(
        TableName=endpoint.names["AuthTable"], Key={"pk": {"S": f"USER#{email}"}, "sk": {"S": "PROFILE"}},
        ConsistentRead=True,
    )["Item"]  # fmt: skip
    return dict(item)


def _signed_up(email: str, deps: Any) -> Principal:
    """Register and log in (no MFA yet: tokens); the Principal the authorizer would derive from the token."""
    assert call("api_auth_register", "/auth/register", {"email": email, "password": PASSWORD}, deps)[0] == 202
    status, tokens, _ = call("api_auth_login", "/auth/login", {"email": email, "password": PASSWORD}, deps)
    assert status == 200
    sub = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"]
    return Principal(user_id=str(sub))


def _enable(email: str, deps: Any) -> tuple[str, list[str]]:
    me = _signed_up(email, deps)
    status, enrolment, _ = call("api_auth_mfa_enroll", "/auth/mfa/enroll", {"password": PASSWORD}, deps, principal=me)
    assert status == 200 and enrolment["expires_in"] == CHALLENGE_TTL_S
    code = code_at(enrolment["secret"], step_at(deps.auth.clock.now()))
    status, body, _ = call("api_auth_mfa_verify", "/auth/mfa/verify",
                           {"challenge": enrolment["challenge"], "code": code}, deps)  # fmt: skip
    assert status == 200 and body["status"] == "mfa_enabled"
    deps.auth.clock.advance(30)  # the confirming code's step is used: log in with the next one
    return enrolment["secret"], body["recovery_codes"]


def _challenge(email: str, deps: Any) -> str:
    status, body, _ = call("api_auth_login", "/auth/login", {"email": email, "password": PASSWORD}, deps)
    assert status == 202 and body["mfa_required"] is True and "access_token" not in body
    return str(body["challenge"])


def _verify(challenge: str, code: str, deps: Any) -> tuple[int, dict[str, Any], dict[str, Any]]:
    return call("api_auth_mfa_verify", "/auth/mfa/verify", {"challenge": challenge, "code": code}, deps)


def test_enroll_verify_then_login_needs_a_code_against_the_endpoint(deps: Any, endpoint: Endpoint) -> None:
    email = "hopper@example.com"
    me = _signed_up(email, deps)
    step_up = {"password": PASSWORD}
    assert call("api_auth_mfa_enroll", "/auth/mfa/enroll", step_up, deps)[0] == 401  # no authorizer context: 401
    status, enrolment, headers = call("api_auth_mfa_enroll", "/auth/mfa/enroll", step_up, deps, principal=me)
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert enrolment["otpauth_uri"].startswith(f"otpauth://totp/GPUBroker:{email.replace('@', '%40')}?secret=")
    assert enrolment["qr_png"].startswith("data:image/png;base64,")
    # the table holds the secret sealed under the KMS key, bound to this account: it opens for this account only
    sealed = _profile(endpoint, email)["mfa_pending_secret"]["S"]
    assert enrolment["secret"] not in sealed and enrolment["secret"] not in json.dumps(_profile(endpoint, email))
    box = KmsSecretBox(endpoint.names["MfaSecretsKey"], purpose="gpubroker-totp")
    assert box.open(sealed, email) == enrolment["secret"]
    with pytest.raises(ClientError, match="InvalidCiphertext"):
        box.open(sealed, "mallory@example.com")  # copied onto another profile, it does not open
    code = code_at(enrolment["secret"], step_at(deps.auth.clock.now()))
    status, body, _ = _verify(enrolment["challenge"], code, deps)
    assert status == 200 and len(body["recovery_codes"]) == 10
    item = _profile(endpoint, email)
    assert item["mfa_enabled"]["BOOL"] is True and "mfa_pending_secret" not in item
    assert "mfa_pending_digest" not in item and box.open(item["mfa_secret"]["S"], email) == enrolment["secret"]
    stored = set(item["recovery_hashes"]["SS"])
    assert stored == {hashlib.sha256(c.replace("-", "").encode()).hexdigest() for c in body["recovery_codes"]}
    assert not any(c.replace("-", "") in json.dumps(item) for c in body["recovery_codes"])  # never in clear
    status, body, _ = call("api_auth_mfa_enroll", "/auth/mfa/enroll", {"password": PASSWORD}, deps, principal=me)
    assert (status, body["error"]["code"]) == (409, "mfa_already_enabled")

    deps.auth.clock.advance(30)
    challenge = _challenge(email, deps)
    code = code_at(enrolment["secret"], step_at(deps.auth.clock.now()))
    status, tokens, headers = _verify(challenge, code, deps)
    assert status == 200 and tokens["token_type"] == "Bearer" and "__Host-gpb_fgp=" in str(headers["Set-Cookie"])
    # replay: the same code on a fresh challenge (an observer with the password too)
    status, body, _ = _verify(_challenge(email, deps), code, deps)
    assert (status, body["error"]["code"]) == (401, "invalid_mfa_code")
    assert int(_profile(endpoint, email)["mfa_last_step"]["N"]) == step_at(deps.auth.clock.now())
    # the spent challenge, an unknown one, an expired one
    assert _verify(challenge, code, deps)[1]["error"]["code"] == "invalid_mfa_challenge"
    assert _verify("x" * 43, code, deps)[1]["error"]["code"] == "invalid_mfa_challenge"
    stale = _challenge(email, deps)
    deps.auth.clock.advance(CHALLENGE_TTL_S)
    status, body, _ = _verify(stale, code_at(enrolment["secret"], step_at(deps.auth.clock.now())), deps)
    assert (status, body["error"]["code"]) == (401, "invalid_mfa_challenge")


def test_a_recovery_code_logs_in_once(deps: Any, endpoint: Endpoint) -> None:
    email = "lovelace@example.com"
    _, recovery = _enable(email, deps)
    assert _verify(_challenge(email, deps), recovery[0], deps)[0] == 200
    status, body, _ = _verify(_challenge(email, deps), recovery[0], deps)
    assert (status, body["error"]["code"]) == (401, "invalid_mfa_code")
    assert _verify(_challenge(email, deps), recovery[1].upper(), deps)[0] == 200
    assert len(_profile(endpoint, email)["recovery_hashes"]["SS"]) == 8


def test_a_challenge_takes_five_codes_and_the_account_ten_per_window(deps: Any) -> None:
    email = "turing@example.com"
    secret, _ = _enable(email, deps)
    deps.auth.clock.advance(300)  # a fresh throttle window (the confirming code counted)
    valid = {code_at(secret, step_at(deps.auth.clock.now()) + d) for d in (-1, 0, 1)}
    wrong = next(c for c in ("000000", "111111", "222222") if c not in valid)
    challenge = _challenge(email, deps)
    for _ in range(5):
        assert _verify(challenge, wrong, deps)[1]["error"]["code"] == "invalid_mfa_code"
    status, body, _ = _verify(challenge, code_at(secret, step_at(deps.auth.clock.now())), deps)
    assert (status, body["error"]["code"]) == (401, "invalid_mfa_challenge")  # capped: even the right code
    challenge = _challenge(email, deps)
    for _ in range(4):  # 10 codes for this account in 5 minutes
        assert _verify(challenge, wrong, deps)[0] == 401
    status, body, headers = _verify(challenge, code_at(secret, step_at(deps.auth.clock.now())), deps)
    assert status == 429 and int(headers["Retry-After"]) >= 1


def _race(n: int, attempt: Any) -> list[int]:
    statuses: list[int] = []
    barrier = threading.Barrier(n)

    def go(i: int) -> None:
        barrier.wait()
        statuses.append(attempt(i))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


@pytest.mark.usefixtures("atomic_conditional_writes")
def test_twenty_concurrent_submissions_of_one_code_exactly_one_succeeds(deps: Any) -> None:
    email = "hamilton@example.com"
    secret, recovery = _enable(email, deps)
    deps.auth.throttle = Unlimited()  # every request must reach the conditional write under test
    code = code_at(secret, step_at(deps.auth.clock.now()))
    challenges = [_challenge(email, deps) for _ in range(20)]
    statuses = _race(20, lambda i: _verify(challenges[i], code, deps)[0])
    assert sorted(statuses) == [200] + [401] * 19
    # one challenge, one code, twenty requests
    deps.auth.clock.advance(30)
    code, challenge = code_at(secret, step_at(deps.auth.clock.now())), _challenge(email, deps)
    statuses = _race(20, lambda _: _verify(challenge, code, deps)[0])
    assert sorted(statuses) == [200] + [401] * 19
    # one recovery code, twenty challenges
    challenges = [_challenge(email, deps) for _ in range(20)]
    statuses = _race(20, lambda i: _verify(challenges[i], recovery[0], deps)[0])
    assert sorted(statuses) == [200] + [401] * 19
