"""The local stack as a real process on free loopback ports, seeded from ../shared/data/catalogs.

Set ``GPUBROKER_API_URL`` to run these tests against a stack that is already running (or a deployed stage), and
``GPUBROKER_WS_URL`` for its WebSocket API.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import boto3
import pytest

from gpubroker.api.cookies import FINGERPRINT_COOKIE
from infra.local.template import ROOT
from tests.e2e.stack_process import local_stack


@dataclass
class Stack:
    url: str
    state_file: Path
    ready_s: float  # reported, never asserted: tests/bench/bench_local_stack.py times it
    ws_url: str | None = None
    auth: dict[str, str] = field(default_factory=dict)  # a signed-in enterprise admin's headers (see sign_in)
    # what the documented commands answered the moment the stack said it was ready (see first_answers)
    at_ready: dict[str, object] = field(default_factory=dict)

    def get(self, url: str, timeout: float = 10) -> tuple[int, dict]:  # type: ignore[type-arg]
        return _get(url, timeout, headers=self.auth)

    def post(self, url: str, body: dict[str, object]) -> tuple[int, dict]:  # type: ignore[type-arg]
        return request("POST", url, body, headers=self.auth)[:2]


def request(
    method: str, url: str, body: dict[str, object] | None = None, headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict, dict[str, str]]:  # type: ignore[type-arg]  # fmt: skip
    data = json.dumps(body).encode() if body is not None else None
    hdrs = {**({"content-type": "application/json"} if data else {}), **(headers or {})}
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}"), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}"), dict(err.headers)


def _patient(method: str, url: str, body: dict[str, object]) -> tuple[int, dict, dict[str, str]]:  # type: ignore[type-arg]
    """An anonymous call that waits out the free rate as a well-behaved client does (``Retry-After``): the tests
    share one IP, and one of them floods it on purpose."""
    for _ in range(5):
        status, answer, headers = request(method, url, body)
        if status != 429:
            break
        time.sleep(int(headers["Retry-After"]))
    return status, answer, headers


def _get(url: str, timeout: float = 10, headers: dict[str, str] | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    status, body, _ = request("GET", url, headers=headers, timeout=timeout)
    return status, body


def sign_in(
    url: str, state_file: Path, *, plan: str = "enterprise", roles: tuple[str, ...] = ("admin", "user")
) -> dict[str, str]:
    return session(url, state_file, plan=plan, roles=roles)[0]


def session(
    url: str, state_file: Path, *, plan: str, roles: tuple[str, ...], verified: bool = False
) -> tuple[dict[str, str], str]:
    """A fresh ``account`` logged in over HTTP: the headers that carry its session (the access token and its
    fingerprint cookie) and its refresh token. The tests are one client among many at the enterprise rate."""
    email, password = account(url, state_file, plan=plan, roles=roles, verified=verified)
    status, tokens, headers = _patient("POST", f"{url}/auth/login", {"email": email, "password": password})
    assert status == 200, (status, tokens)
    cookie = SimpleCookie(headers["Set-Cookie"])
    fingerprint = cookie[FINGERPRINT_COOKIE].value
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "Cookie": f"{FINGERPRINT_COOKIE}={fingerprint}"}
    return headers, str(tokens["refresh_token"])


def account(
    url: str, state_file: Path, *, plan: str, roles: tuple[str, ...], verified: bool = False
) -> tuple[str, str]:
    """Register a fresh account over HTTP, give it ``plan`` and ``roles`` in the stack's AuthTable (what billing and
    an operator do; neither is an API of its own yet), and with ``verified`` a verified address (what following
    the mailed link does): its email and password."""
    email, password = f"e2e-{uuid.uuid4().hex[:12]}@example.com", "correct horse battery staple"
    status, _, _ = _patient("POST", f"{url}/auth/register", {"email": email, "password": password})
    assert status == 202, status
    state = json.loads(state_file.read_text())
    ddb = boto3.client("dynamodb", endpoint_url=state["aws_endpoint"], region_name="us-east-1")
    ddb.update_item(
        TableName=state["names"]["AuthTable"], Key={"pk": {"S": f"USER#{email}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET #p = :p, #r = :r, email_verified = :v",
        ExpressionAttributeNames={"#p": "plan", "#r": "roles"},
        ExpressionAttributeValues={":p": {"S": plan}, ":r": {"SS": list(roles)}, ":v": {"BOOL": verified}},
    )  # fmt: skip
    return email, password


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    given = os.environ.get("GPUBROKER_API_URL")
    if given:
        ws = os.environ.get("GPUBROKER_WS_URL")
        yield Stack(url=given.rstrip("/"), state_file=ROOT / ".local/stack.json", ready_s=0.0, ws_url=ws)
        return
    # the booking tests keep their confirmed bookings' sandbox instances: room for all of them on one GPU model
    with local_stack(tmp_path_factory.mktemp("stack"), env={"GPUBROKER_SANDBOX_CAPACITY": "*=512"}) as up:
        at_ready = first_answers(up.url, up.ws_url)  # before anything else touches the stack
        auth = sign_in(up.url, up.state_file)
        yield Stack(url=up.url, state_file=up.state_file, ready_s=up.ready_s, ws_url=up.ws_url, auth=auth,
                    at_ready=at_ready)  # fmt: skip


READY_ROUTES = ("/health/ready", "/offers?limit=1", "/providers", "/market/summary", "/gpus")


def first_answers(url: str, ws_url: str | None) -> dict[str, object]:
    """The statuses of the documented read routes and the reply to a WebSocket subscribe, asked the moment the
    stack has said it is ready (its state file written, as `make dev` prints "ready"): every one must work then,
    not a few seconds later (tests/e2e/test_readiness.py)."""
    from websockets.sync.client import connect

    # a generous hang guard: the first market summary reads every GPU's history (~10 s against moto, cached after)
    answers: dict[str, object] = {path: _get(f"{url}{path}", timeout=120)[0] for path in READY_ROUTES}
    if ws_url:
        with connect(ws_url, open_timeout=10) as ws:
            ws.send(json.dumps({"action": "subscribe", "filters": {"gpu_model": "H100-SXM"}}))
            answers["ws subscribe"] = json.loads(ws.recv(timeout=10)).get("type")
    return answers
