"""The local stack's SigV4 verifier (infra/local/sigv4.py) against AWS's published example and against requests
botocore signs (what every handler's boto3 client sends), its refusals, and the state file that carries the
run's credentials (readable by its owner only)."""

from __future__ import annotations

import json
import stat
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from infra.local.__main__ import write_state
from infra.local.sigv4 import LocalCredentials, browser_refusal, refusal, sign, verify

CREDS = LocalCredentials.generate()


def test_the_aws_documentation_example_verifies() -> None:
    """AWS's worked example (Signature Version 4, "GET https://iam.amazonaws.com/?Action=ListUsers&...")."""
    creds = LocalCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    headers = {
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
        "host": "iam.amazonaws.com",
        "x-amz-date": "20150830T123600Z",
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    }
    at = datetime(2015, 8, 30, 12, 36, tzinfo=UTC).timestamp()
    assert verify(creds, "iam", "GET", "/?Action=ListUsers&Version=2010-05-08", headers, b"", now=at) is None
    tampered = {**headers, "x-amz-date": "20150830T123601Z"}
    assert verify(creds, "iam", "GET", "/?Action=ListUsers&Version=2010-05-08", tampered, b"", now=at) is not None


def _botocore_signed(service: str, method: str, url: str, body: bytes) -> tuple[str, dict[str, str]]:
    """The request target and headers as botocore sends them (a path already percent-encoded by the SDK)."""
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials(CREDS.access_key_id, CREDS.secret_access_key), service, "us-east-1").add_auth(request)
    parts = urlsplit(url)
    headers = {k.lower(): str(v) for k, v in request.headers.items()}
    headers["host"] = parts.netloc
    return parts.path + (f"?{parts.query}" if parts.query else ""), headers


@pytest.mark.parametrize(
    ("service", "method", "url", "body"),
    [
        ("lambda", "POST", "http://127.0.0.1:3000/2015-03-31/functions/IngestOffersFunction/invocations", b'{"a":1}'),
        ("lambda", "POST", "http://127.0.0.1:3000/2015-03-31/functions/F/invocations?Qualifier=%24LATEST&b=2", b""),
        # an API Gateway connection id holds '+', '/' and '=': the SDK encodes them, the canonical path again
        ("execute-api", "POST", "http://127.0.0.1:41234/local/%40connections/L0SM9c%2FOF%2BvHcCIhw%3D", b"\x00\xff"),
        ("execute-api", "DELETE", "http://localhost:41234/local/@connections/abc%3D", b""),
    ],
)
def test_what_botocore_signs_verifies_and_a_changed_byte_does_not(service: str, method: str, url: str,
                                                                  body: bytes) -> None:  # fmt: skip
    target, headers = _botocore_signed(service, method, url, body)
    assert verify(CREDS, service, method, target, headers, body) is None
    assert verify(CREDS, service, method, target, headers, body + b" ") is not None
    assert verify(CREDS, service, "PUT", target, headers, body) is not None
    assert verify(CREDS, service, method, "/x" + target, headers, body) is not None
    assert verify(CREDS, service, method, target, {**headers, "host": "127.0.0.2:1"}, body) is not None


def test_the_local_signer_matches_botocore() -> None:
    url, body = "http://127.0.0.1:3000/2015-03-31/functions/F/invocations", b'{"x": 1}'
    headers = {k.lower(): v for k, v in sign(CREDS, "lambda", "POST", url, body).items()}
    headers["host"] = "127.0.0.1:3000"
    assert verify(CREDS, "lambda", "POST", urlsplit(url).path, headers, body) is None


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"authorization": None}, "MissingAuthenticationTokenException"),
        ({"authorization": "Bearer abc"}, "IncompleteSignatureException"),
        ({"authorization": "AWS4-HMAC-SHA256 Credential=x"}, "IncompleteSignatureException"),
        ({"x-amz-date": "yesterday"}, "IncompleteSignatureException"),
        ({"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}, "InvalidSignatureException"),
    ],
)
def test_malformed_authentication_is_refused_with_aws_codes(change: dict[str, str | None], code: str) -> None:
    url, body = "http://127.0.0.1:3000/2015-03-31/functions/F/invocations", b"{}"
    headers = {k.lower(): v for k, v in sign(CREDS, "lambda", "POST", url, body).items()} | {"host": "127.0.0.1:3000"}
    for name, value in change.items():
        headers.pop(name, None)
        if value is not None:
            headers[name] = value
    refused = verify(CREDS, "lambda", "POST", urlsplit(url).path, headers, body)
    assert refused is not None and (refused.status, refused.code) == (403, code)


def test_a_signature_is_good_for_five_minutes_either_way() -> None:
    url, body, now = "http://h:1/p", b"", time.time()
    for skew, good in ((-290, True), (290, True), (-310, False), (310, False)):
        headers = {k.lower(): v for k, v in sign(CREDS, "lambda", "GET", url, body, now=now + skew).items()}
        refused = verify(CREDS, "lambda", "GET", "/p", headers | {"host": "h:1"}, body, now=now)
        assert (refused is None) == good, skew


@pytest.mark.parametrize(
    ("headers", "browser"),
    [
        ({}, False),
        ({"content-type": "application/json"}, False),
        ({"content-type": "application/x-amz-json-1.1"}, False),
        ({"sec-fetch-site": "none"}, False),  # typed into the address bar: no page behind it (the signature decides)
        ({"origin": "null"}, True),
        ({"origin": "http://127.0.0.1:3000"}, True),
        ({"sec-fetch-site": "same-origin"}, True),
        ({"sec-fetch-site": "cross-site"}, True),
        ({"content-type": "TEXT/PLAIN; charset=utf-8"}, True),
        ({"content-type": "application/x-www-form-urlencoded"}, True),
        ({"content-type": "multipart/form-data; boundary=b"}, True),
    ],
)
def test_browser_originated_requests(headers: dict[str, str], browser: bool) -> None:
    refused = browser_refusal(headers)
    assert (refused is not None) == browser
    if refused is not None:
        assert (refused.status, refused.code) == (403, "BrowserRequestRefused")
        assert json.loads(refused.body())["error"]["code"] == "BrowserRequestRefused"
        # signed or not, a browser's request is refused for being one
        url = "http://h:1/p"
        signed = {k.lower(): v for k, v in sign(CREDS, "lambda", "GET", url, b"", headers).items()} | {"host": "h:1"}
        assert refusal(CREDS, "lambda", "GET", "/p", signed, b"") == refused


def test_each_run_has_its_own_key_and_the_state_file_is_the_owners_only(tmp_path: Path) -> None:
    assert LocalCredentials.generate() != LocalCredentials.generate()
    assert len(CREDS.access_key_id) == 20 and len(CREDS.secret_access_key) >= 40
    path = tmp_path / "local" / "stack.json"
    path.parent.mkdir()
    (tmp_path / "local" / "stack.json.tmp").write_text("left over by a killed run")
    write_state(path, {"api": "http://127.0.0.1:3000", "credentials": CREDS.state()})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert LocalCredentials.from_state(json.loads(path.read_text())) == CREDS
    fresh = tmp_path / "new" / ".local" / "stack.json"
    write_state(fresh, {"credentials": CREDS.state()})
    assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700 and stat.S_IMODE(fresh.stat().st_mode) == 0o600
