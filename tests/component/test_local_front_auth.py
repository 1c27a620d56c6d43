"""The local stack's Lambda Invoke API and WebSocket ``@connections`` API are not an open door (issue 11, part 3):
the HTTP front and the WebSocket front's management endpoint, each on a free loopback port with the real handlers,
answer only requests signed (SigV4) with the run's credentials, and never one a browser sent. Without the check,
``ApiVerifyAuditFunction`` ran for anyone (with a made-up admin identity in the event), a ``text/plain`` POST from
any web page drove it, and anyone could push into, read or close any socket.

The clients that must keep working are exercised as they run: boto3 clients signing with the credentials in their
environment (the handlers' ``LambdaIngestionRunner`` and ``ApiGatewayConnectionPoster``), and ``make ingest``'s
urllib client signing with the state file's."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from websockets.sync.client import ClientConnection, connect

from gpubroker.adapters.lambda_invoke import LambdaIngestionRunner
from gpubroker.adapters.websocket import ApiGatewayConnectionPoster
from infra.local.http_front import make_server
from infra.local.ingest import invoke as ingest_invoke
from infra.local.runtime import Runtime
from infra.local.sigv4 import LocalCredentials, sign
from infra.local.stack import free_port
from infra.local.template import read_app
from infra.local.ws_front import WebSocketFront
from tests.events import rest_event

CREDS = LocalCredentials.generate()
HEALTH = rest_event("/health", "/health")  # ApiHealthFunction touches no AWS service: a real answer, here
VERIFY_AUDIT = {**rest_event("/audit/verify", "/audit/verify"), "httpMethod": "POST"}
VERIFY_AUDIT["requestContext"]["authorizer"] = {"user_id": "root", "plan": "enterprise", "roles": "admin,user"}


@dataclass
class Fronts:
    api: str  # the HTTP front: Invoke API, and @connections under /<stage>
    management: str  # the WebSocket front's own @connections endpoint (what the handlers post to)
    ws: str


@pytest.fixture(scope="module")
def fronts() -> Iterator[Fronts]:
    runtime = Runtime(read_app(), isolated=False)
    ws = WebSocketFront("127.0.0.1", free_port(), runtime, [], credentials=CREDS)  # no routes: $connect accepts
    ws.start()
    http = make_server("127.0.0.1", 0, runtime, connections=ws, credentials=CREDS)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        yield Fronts(api=f"http://127.0.0.1:{http.server_address[1]}", management=ws.management_url, ws=ws.url)
    finally:
        http.shutdown()
        http.server_close()
        ws.stop()


def _http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        assert err.headers.get("x-amzn-ErrorType") or err.code != 403, "a refusal names its code for the SDKs"
        return err.code, json.loads(err.read() or b"null")


def _code(answer: tuple[int, Any]) -> tuple[int, str | None]:
    status, body = answer
    return status, (body or {}).get("error", {}).get("code") if isinstance(body, dict) else None


def _invocations(fronts: Fronts, function: str) -> str:
    return f"{fronts.api}/2015-03-31/functions/{function}/invocations"


UNROUTED = json.dumps({"action": "nothing"})


@contextmanager
def _socket(fronts: Fronts) -> Iterator[tuple[ClientConnection, str]]:
    """A WebSocket client and its connection id (API Gateway's "Forbidden" answer to an unrouted frame names it)."""
    with connect(fronts.ws, open_timeout=10) as client:
        client.send(UNROUTED)
        yield client, str(json.loads(client.recv(timeout=10))["connectionId"])


def _management_urls(fronts: Fronts) -> list[str]:
    return [f"{fronts.management}/local", f"{fronts.api}/local"]


# ---------------------------------------------------------------------------------------------- refused
def test_an_unsigned_invoke_is_refused_and_the_function_never_runs(fronts: Fronts) -> None:
    body = json.dumps(VERIFY_AUDIT).encode()
    plain = _http("POST", _invocations(fronts, "ApiVerifyAuditFunction"), body, {"Content-Type": "application/json"})
    assert _code(plain) == (403, "MissingAuthenticationTokenException")
    # what a web page can send without a preflight: refused as a browser's before the signature is looked at
    page = _http("POST", _invocations(fronts, "ApiVerifyAuditFunction"), body, {"Content-Type": "text/plain"})
    assert _code(page) == (403, "BrowserRequestRefused")


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
@pytest.mark.parametrize("where", ["websocket front", "http front"])
def test_unsigned_connections_calls_are_refused_and_the_socket_is_untouched(
    fronts: Fronts, method: str, where: str
) -> None:
    base = _management_urls(fronts)[where == "http front"]
    with _socket(fronts) as (client, connection_id):
        body = b'{"type":"price","forged":true}' if method == "POST" else None
        target = f"{base}/@connections/{urllib.parse.quote(connection_id, safe='')}"
        answer = _http(method, target, body, {"Content-Type": "application/json"} if body else {})
        assert _code(answer) == (403, "MissingAuthenticationTokenException")
        client.send(UNROUTED)  # the socket is still open, and nothing was pushed into it before this answer
        assert json.loads(client.recv(timeout=10))["message"] == "Forbidden"


@pytest.mark.parametrize(
    "browser",
    [
        {"Origin": "http://evil.example", "Content-Type": "text/plain"},
        {"Origin": "http://evil.example", "Content-Type": "application/json"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {"Content-Type": "text/plain;charset=UTF-8"},
        {"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
    ],
)
def test_a_browser_originated_request_is_refused_even_when_signed(fronts: Fronts, browser: dict[str, str]) -> None:
    """A page never knows the key, so a signed request that looks like a browser's did not come from one of the
    stack's clients: it is refused whatever its signature."""
    url, body = _invocations(fronts, "ApiHealthFunction"), json.dumps(HEALTH).encode()
    assert _code(_http("POST", url, body, sign(CREDS, "lambda", "POST", url, body, browser))) == (
        403, "BrowserRequestRefused")  # fmt: skip
    with _socket(fronts) as (_, connection_id):
        for base in _management_urls(fronts):
            target = f"{base}/@connections/{urllib.parse.quote(connection_id, safe='')}"
            headers = sign(CREDS, "execute-api", "POST", target, b"{}", browser)
            assert _code(_http("POST", target, b"{}", headers)) == (403, "BrowserRequestRefused")


def test_a_bad_signature_is_refused(fronts: Fronts) -> None:
    url, body = _invocations(fronts, "ApiHealthFunction"), json.dumps(HEALTH).encode()
    json_type = {"Content-Type": "application/json"}
    other = LocalCredentials.generate()
    assert _code(_http("POST", url, body, sign(other, "lambda", "POST", url, body, json_type))) == (
        403, "UnrecognizedClientException")  # fmt: skip
    forged = LocalCredentials(CREDS.access_key_id, other.secret_access_key)  # the key id is not a secret
    assert _code(_http("POST", url, body, sign(forged, "lambda", "POST", url, body, json_type))) == (
        403, "InvalidSignatureException")  # fmt: skip
    swapped = json.dumps(VERIFY_AUDIT).encode()  # a signed request's body replaced
    assert _code(_http("POST", url, swapped, sign(CREDS, "lambda", "POST", url, body, json_type))) == (
        403, "InvalidSignatureException")  # fmt: skip
    other_function = _invocations(fronts, "ApiVerifyAuditFunction")  # its path changed
    assert _code(_http("POST", other_function, body, sign(CREDS, "lambda", "POST", url, body, json_type))) == (
        403, "InvalidSignatureException")  # fmt: skip
    stale = sign(CREDS, "lambda", "POST", url, body, json_type, now=time.time() - 600)
    assert _code(_http("POST", url, body, stale)) == (403, "InvalidSignatureException")
    for_connections = sign(CREDS, "execute-api", "POST", url, body, json_type)  # scoped to another service
    assert _code(_http("POST", url, body, for_connections)) == (403, "InvalidSignatureException")


# ---------------------------------------------------------------------------------------------- still works
def test_signed_clients_work_as_before(fronts: Fronts, monkeypatch: pytest.MonkeyPatch) -> None:
    """``make ingest``'s client (state file credentials), a boto3 Lambda client, and the handlers' own
    ``LambdaIngestionRunner`` (the credentials in its environment, as the stack's processes hold them)."""
    failed, payload = ingest_invoke(fronts.api, "ApiHealthFunction", HEALTH, CREDS)
    assert not failed and payload["statusCode"] == 200 and json.loads(payload["body"])["status"] == "ok"
    key, secret = CREDS.access_key_id, CREDS.secret_access_key
    lam = boto3.client("lambda", endpoint_url=fronts.api, region_name="us-east-1", aws_access_key_id=key,
                       aws_secret_access_key=secret)  # fmt: skip
    answer = lam.invoke(FunctionName="ApiHealthFunction", Payload=json.dumps(HEALTH).encode())
    assert answer["StatusCode"] == 200 and json.loads(answer["Payload"].read())["statusCode"] == 200
    wrong = boto3.client("lambda", endpoint_url=fronts.api, region_name="us-east-1", aws_access_key_id="LOCALX",
                         aws_secret_access_key="x")  # fmt: skip
    with pytest.raises(ClientError) as refused:
        wrong.invoke(FunctionName="ApiHealthFunction", Payload=json.dumps(HEALTH).encode())
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    for name, value in {**CREDS.environment(), "AWS_ENDPOINT_URL_LAMBDA": fronts.api}.items():
        monkeypatch.setenv(name, value)
    runner = LambdaIngestionRunner("ApiHealthFunction")
    assert runner.run(HEALTH)["statusCode"] == 200
    for boto_client in (lam, wrong, runner._lambda):  # their keep-alive connections, before the fronts stop
        boto_client.close()


@pytest.mark.parametrize("where", ["websocket front", "http front"])
def test_signed_connections_calls_reach_the_socket(fronts: Fronts, where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The handlers' poster signs with the credentials in its environment; GET describes, DELETE closes."""
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    for name, value in CREDS.environment().items():
        monkeypatch.setenv(name, value)
    endpoint = _management_urls(fronts)[where == "http front"]
    poster = ApiGatewayConnectionPoster(endpoint)
    with _socket(fronts) as (client, connection_id):
        assert poster.post(connection_id, b'{"type":"price","seq":1}')
        assert json.loads(client.recv(timeout=10)) == {"type": "price", "seq": 1}
        described = poster.client.get_connection(ConnectionId=connection_id)
        assert described["ResponseMetadata"]["HTTPStatusCode"] == 200
        poster.client.delete_connection(ConnectionId=connection_id)
        with pytest.raises(Exception, match=r"closed|1000"):
            client.recv(timeout=10)
    assert poster.post(connection_id, b"{}") is False  # gone: 410, as before
    poster.client.close()  # its keep-alive connections, before the fronts stop


@pytest.mark.parametrize(("path", "status", "code"), [("/offers?cursor=" + "%F3%98%A6%BB" * 6000, 414, "uri_too_long")])
def test_what_the_front_refuses_before_any_route_is_in_the_api_error_shape(
    fronts: Fronts, path: str, status: int, code: str
) -> None:
    """A request line past http.server's 64 KiB (schemathesis sent one: a cursor of 4-byte characters, each
    percent-encoded) got an HTML page; it gets the documented 414 with a code and nosniff, as every other answer."""
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{fronts.api}{path}", timeout=10)
    assert refused.value.code == status
    assert refused.value.headers["X-Content-Type-Options"] == "nosniff"
    assert json.loads(refused.value.read())["error"]["code"] == code
