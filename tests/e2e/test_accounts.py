"""The account lifecycle over real HTTP on the local stack: register -> the verification mail in the outbox ->
verify -> a refreshed session says email_verified -> forgot -> the reset mail -> reset -> every old session refused ->
login with the new password; MFA's step-up routes; ``make admin`` making the first admin, audited.

The mails are read where a developer reads them: the ``.eml`` files the stack's moto process writes for every
message SES accepts (the state file's ``outbox``)."""

from __future__ import annotations

import base64
import email
import json
import re
import subprocess
import sys
import time
import uuid
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest

from gpubroker.api.cookies import FINGERPRINT_COOKIE
from gpubroker.domain.mfa import code_at, step_at
from infra.local.template import ROOT
from tests.e2e.conftest import Stack, request

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

PASSWORD, NEW_PASSWORD = "correct horse battery staple", "an entirely new passphrase"


def _call(stack: Stack, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    """A POST that waits out the free rate and the per-IP throttles as a well-behaved client does (the e2e tests
    share one IP, and so do other runs on the machine: forgot allows 10 a minute per IP), up to a minute."""
    for _ in range(5):
        status, answer, hdrs = request("POST", f"{stack.url}{path}", body, headers)
        if status != 429 or int(hdrs["Retry-After"]) > 60:
            break
        time.sleep(int(hdrs["Retry-After"]))
    return status, answer, hdrs


def _outbox(stack: Stack) -> Path:
    return Path(json.loads(stack.state_file.read_text())["outbox"])


def _mail_to(stack: Stack, address: str, subject: str, seen: int = 0) -> email.message.Message:
    """The newest message to ``address`` with ``subject``, once more than ``seen`` of them are there."""
    deadline = time.monotonic() + 10
    while True:
        found = []
        for path in sorted(_outbox(stack).glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes())
            if message["To"] == address and message["Subject"] == subject:
                found.append(message)
        if len(found) > seen:
            return found[-1]
        assert time.monotonic() < deadline, f"no mail {subject!r} to {address} in {_outbox(stack)}"
        time.sleep(0.1)


def _token(message: email.message.Message) -> str:
    text = message.get_payload(decode=True)
    assert isinstance(text, bytes)
    found = re.search(r"#token=([A-Za-z0-9_.-]+)", text.decode())
    assert found, text
    return found.group(1)


def _login(stack: Stack, address: str, password: str) -> tuple[dict[str, str], dict[str, Any]]:
    status, tokens, headers = _call(stack, "/auth/login", {"email": address, "password": password})
    assert status == 200, (status, tokens)
    fingerprint = SimpleCookie(headers["Set-Cookie"])[FINGERPRINT_COOKIE].value
    auth = {"Authorization": f"Bearer {tokens['access_token']}", "Cookie": f"{FINGERPRINT_COOKIE}={fingerprint}"}
    return auth, tokens


def _claims(access_token: str) -> dict[str, Any]:
    body = access_token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def test_register_verify_forgot_reset_login_over_http(stack: Stack) -> None:
    address = f"life-{uuid.uuid4().hex[:10]}@example.com"
    assert _call(stack, "/auth/register", {"email": address, "password": PASSWORD})[0] == 202
    verification = _mail_to(stack, address, "Verify your GPUBroker email address")
    assert verification["From"] == "no-reply@gpubroker.dev"
    assert f"{stack.url}/app/verify-email#token=" in str(verification.get_payload())  # the web app's page
    auth, tokens = _login(stack, address, PASSWORD)
    assert _claims(tokens["access_token"])["email_verified"] is False
    status, body, _ = _call(stack, "/auth/verify-email", {"token": _token(verification)})
    assert (status, body["status"]) == (200, "email_verified")
    status, refreshed, _ = _call(stack, "/auth/refresh", {"refresh_token": tokens["refresh_token"]},
                                 {"Cookie": auth["Cookie"]})  # fmt: skip
    assert status == 200 and _claims(refreshed["access_token"])["email_verified"] is True
    status, body, _ = _call(stack, "/auth/verify-email/send", {}, {**auth, "Authorization":
                            f"Bearer {refreshed['access_token']}"})  # fmt: skip
    assert (status, body["error"]["code"]) == (409, "email_already_verified")

    # forgot: the same 202 for an unknown address (and no mail), the reset mail for the account
    ghost = f"ghost-{uuid.uuid4().hex[:10]}@example.com"
    assert _call(stack, "/auth/password/forgot", {"email": ghost})[:2] == (202, {"status": "accepted"})
    assert _call(stack, "/auth/password/forgot", {"email": address})[:2] == (202, {"status": "accepted"})
    assert not any(email.message_from_bytes(p.read_bytes())["To"] == ghost for p in _outbox(stack).glob("*.eml"))
    reset_mail = _mail_to(stack, address, "Reset your GPUBroker password")
    assert f"{stack.url}/app/reset-password#token=" in str(reset_mail.get_payload())  # the web app's page
    reset = _token(reset_mail)
    status, body, _ = _call(stack, "/auth/password/reset", {"token": reset, "password": NEW_PASSWORD})
    assert (status, body["status"]) == (200, "password_reset")
    status, body, _ = _call(stack, "/auth/password/reset", {"token": reset, "password": "one more passphrase"})
    assert (status, body["error"]["code"]) == (400, "invalid_link")  # single use
    # every session of the account is over (its access tokens too, once the authorizer's 60 s cache has passed)
    status, body, _ = _call(stack, "/auth/refresh", {"refresh_token": refreshed["refresh_token"]},
                            {"Cookie": auth["Cookie"]})  # fmt: skip
    assert (status, body["error"]["code"]) == (401, "refresh_refused")
    assert _call(stack, "/auth/login", {"email": address, "password": PASSWORD})[0] == 401
    _login(stack, address, NEW_PASSWORD)


def test_mfa_step_up_routes_over_http(stack: Stack) -> None:
    address = f"mfa-{uuid.uuid4().hex[:10]}@example.com"
    assert _call(stack, "/auth/register", {"email": address, "password": PASSWORD})[0] == 202
    auth, _ = _login(stack, address, PASSWORD)
    status, body, _ = _call(stack, "/auth/mfa/enroll", {}, auth)
    assert status == 422  # a session alone does not enrol: the password too
    status, body, _ = _call(stack, "/auth/mfa/enroll", {"password": "not the password"}, auth)
    assert (status, body["error"]["code"]) == (403, "step_up_failed")
    status, enrolment, _ = _call(stack, "/auth/mfa/enroll", {"password": PASSWORD}, auth)
    assert status == 200
    code = code_at(enrolment["secret"], step_at(time.time()))
    status, enabled, _ = _call(stack, "/auth/mfa/verify", {"challenge": enrolment["challenge"], "code": code})
    assert status == 200 and len(enabled["recovery_codes"]) == 10
    status, body, _ = _call(stack, "/auth/mfa/disable", {"code": code}, auth)  # the code just used: spent
    assert (status, body["error"]["code"]) == (403, "step_up_failed")
    status, body, _ = _call(stack, "/auth/mfa/recovery-codes", {"password": PASSWORD}, auth)
    assert status == 200 and not set(body["recovery_codes"]) & set(enabled["recovery_codes"])
    status, body, _ = _call(stack, "/auth/mfa/disable", {"password": PASSWORD}, auth)
    assert (status, body) == (200, {"status": "mfa_disabled"})
    _login(stack, address, PASSWORD)  # tokens again at once: no second step


def test_make_admin_grants_the_role_and_the_audit_log_records_it(stack: Stack) -> None:
    address = f"admin-{uuid.uuid4().hex[:10]}@example.com"
    assert _call(stack, "/auth/register", {"email": address, "password": PASSWORD})[0] == 202
    auth, tokens = _login(stack, address, PASSWORD)
    assert request("GET", f"{stack.url}/audit?limit=1", headers=auth)[0] == 403
    command = [sys.executable, "-m", "infra.local.admin", "--state-file", str(stack.state_file), "--operator", "e2e"]
    done = subprocess.run([*command, "--email", address], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    granted = json.loads(done.stdout)
    assert granted["email"] == address and granted["roles"] == ["admin", "user"]
    missing = subprocess.run([*command, "--email", "nobody-at-all@example.com"], cwd=ROOT, capture_output=True,
                             text=True, check=False)  # fmt: skip
    assert missing.returncode == 1 and "AccountNotFound" in missing.stderr
    # the role counts from the next refresh
    status, refreshed, _ = _call(stack, "/auth/refresh", {"refresh_token": tokens["refresh_token"]},
                                 {"Cookie": auth["Cookie"]})  # fmt: skip
    assert status == 200 and "admin" in _claims(refreshed["access_token"])["roles"]
    admin = {**auth, "Authorization": f"Bearer {refreshed['access_token']}"}
    found: list[dict[str, Any]] = []
    url = f"{stack.url}/audit?limit=500"
    while url and not found:
        status, page, _ = request("GET", url, headers=admin)
        assert status == 200
        found = [e for e in page["items"] if e["action"] == "account.grant_role"
                 and e["resource"] == f"user/{granted['user_id']}"]  # fmt: skip
        cursor = page.get("next_cursor")
        url = f"{stack.url}/audit?limit=500&cursor={cursor}" if cursor else ""
    assert found and found[0]["actor"] == "operator:e2e" and found[0]["outcome"] == "ok"
