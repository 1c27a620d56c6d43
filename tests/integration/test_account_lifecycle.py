"""The account lifecycle on the AWS-compatible endpoint (moto): the real handlers on their default wiring, mail
through SES v2 (moto checks the sender identity the template declares, as SES does), the conditional writes of
verification and reset on DynamoDB, every session family found through the ``ByUserId`` index and revoked, and the
local stack's outbox writer."""

from __future__ import annotations

import email
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from gpubroker.adapters.mail import SesMailer
from gpubroker.domain.errors import MailUnavailable
from gpubroker.wiring.auth import AuthApiDeps
from infra.local.moto_server import capture_outbox
from tests.conftest import clear_wiring_caches
from tests.integration.conftest import Endpoint, call_handler

PASSWORD, NEW_PASSWORD = "correct horse battery staple", "a completely new passphrase"


@pytest.fixture
def deps(endpoint: Endpoint) -> AuthApiDeps:
    from gpubroker.adapters.passwords import Argon2Hasher
    from gpubroker.services.auth import AccountMail
    from gpubroker.wiring import auth

    clear_wiring_caches()
    service = auth.mail_service_deps()
    service.hasher = Argon2Hasher(time_cost=1, memory_kib=8192, parallelism=1)
    assert service.mail is not None
    service.mail = AccountMail(mailer=service.mail.mailer, app_url=service.mail.app_url, sleep=lambda _: None)
    return auth.account_mail_deps()


def sent_messages(endpoint: Endpoint) -> list[Any]:
    """What moto's SES accepted (the in-process server's backend; only there can a test read it)."""
    if not endpoint.url.startswith("http://127.0.0.1"):
        pytest.skip("reads moto's in-process SES backend")
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def token_to(endpoint: Endpoint, to: str) -> str:
    for message in reversed(sent_messages(endpoint)):
        found = re.search(r"#token=([A-Za-z0-9_.-]+)", message.body)
        if to in message.destinations.get("ToAddresses", []) and found:
            return found.group(1)
    raise AssertionError(f"no link mailed to {to}")


call = call_handler


def _profile(endpoint: Endpoint, address: str) -> dict[str, Any]:
    from gpubroker.adapters import aws

    got = aws.client("dynamodb").get_item(
        TableName=endpoint.names["AuthTable"], Key={"pk": {"S": f"USER#{address}"}, "sk": {"S": "PROFILE"}},
        ConsistentRead=True,
    )  # fmt: skip
    return dict(got["Item"])


def test_register_verify_forget_reset_against_the_endpoint(deps: AuthApiDeps, endpoint: Endpoint) -> None:
    address = f"lovelace-{uuid.uuid4().hex[:8]}@example.com"  # the endpoint's tables are shared by the session
    assert call("api_auth_register", "/auth/register", {"email": address, "password": PASSWORD}, deps)[0] == 202
    message = sent_messages(endpoint)[-1]
    assert message.source == "no-reply@gpubroker.dev" and message.subject == "Verify your GPUBroker email address"
    status, body, _ = call("api_auth_verify_email", "/auth/verify-email", {"token": token_to(endpoint, address)}, deps)
    assert status == 200 and _profile(endpoint, address)["email_verified"] == {"BOOL": True}
    # two sessions (two devices), then a reset: both families are found through ByUserId and revoked
    sessions = []
    for ip in ("198.51.100.1", "198.51.100.2"):
        status, tokens, headers = call("api_auth_login", "/auth/login", {"email": address, "password": PASSWORD},
                                       deps, ip=ip)  # fmt: skip
        assert status == 200
        raw = headers["Set-Cookie"]
        sessions.append((tokens["refresh_token"], str((raw[0] if isinstance(raw, list) else raw).split(";")[0])))
    before = len(sent_messages(endpoint))
    assert call("api_auth_password_forgot", "/auth/password/forgot", {"email": "ghost@example.com"}, deps)[0] == 202
    assert len(sent_messages(endpoint)) == before  # no account: no mail, and no profile written
    with pytest.raises(KeyError):
        _profile(endpoint, "ghost@example.com")
    assert call("api_auth_password_forgot", "/auth/password/forgot", {"email": address}, deps)[0] == 202
    token = token_to(endpoint, address)
    assert _profile(endpoint, address)["reset_jti"]["S"]
    status, body, _ = call("api_auth_password_reset", "/auth/password/reset",
                           {"token": token, "password": NEW_PASSWORD}, deps)  # fmt: skip
    assert status == 200
    profile = _profile(endpoint, address)
    assert "reset_jti" not in profile and "reset_expires_at" not in profile
    status, body, _ = call("api_auth_password_reset", "/auth/password/reset",
                           {"token": token, "password": "another new passphrase"}, deps)  # fmt: skip
    assert (status, body["error"]["code"]) == (400, "invalid_link")  # the conditional write refused the reuse
    for refresh_token, cookie in sessions:
        status, body, _ = call("api_auth_refresh", "/auth/refresh", {"refresh_token": refresh_token}, deps,
                               cookie=cookie)  # fmt: skip
        assert (status, body["error"]["code"]) == (401, "refresh_refused")
    assert call("api_auth_login", "/auth/login", {"email": address, "password": NEW_PASSWORD}, deps)[0] == 200


def test_ses_refuses_a_sender_that_is_not_a_verified_identity(endpoint: Endpoint) -> None:
    with pytest.raises(MailUnavailable) as refused:
        SesMailer("someone-else@example.org").send("ada@example.com", "hello", "text")
    assert refused.value.details == {"reason": "MessageRejected"}


def test_the_local_outbox_keeps_each_accepted_mail_as_an_eml_file(
    endpoint: Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.ses.models import SESBackend

    sent_messages(endpoint)  # skips against a remote endpoint
    monkeypatch.setattr(SESBackend, "send_email", SESBackend.send_email)  # restored after the test
    capture_outbox(tmp_path)
    SesMailer("no-reply@gpubroker.dev").send("ada@example.com", "Verify your address", "the link: https://x/#token=t")
    with pytest.raises(MailUnavailable):  # refused by SES: nothing in the outbox
        SesMailer("nobody@example.org").send("ada@example.com", "spoofed", "text")
    (eml,) = tmp_path.glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes())
    assert (message["From"], message["To"], message["Subject"]) == (
        "no-reply@gpubroker.dev", "ada@example.com", "Verify your address")  # fmt: skip
    assert "https://x/#token=t" in message.get_payload()
