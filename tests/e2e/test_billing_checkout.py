"""Plan checkout on the local stack, end to end over HTTP: a verified user asks POST /billing/checkout for the pro
plan, pays on the local Stripe server's pay page, the signed webhooks reach POST /billing/webhook, and the user's
plan is pro (it reaches the access token at the next refresh)."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from http.cookies import SimpleCookie

import boto3
import pytest

from gpubroker.api.cookies import FINGERPRINT_COOKIE
from tests.e2e.conftest import Stack, _patient, request

pytestmark = pytest.mark.e2e


def test_a_verified_user_buys_the_pro_plan_through_checkout(stack: Stack) -> None:
    state = json.loads(stack.state_file.read_text())
    if "stripe" not in state:
        pytest.skip("a stack without the local Stripe server")
    email, password = f"e2e-{uuid.uuid4().hex[:12]}@example.com", "correct horse battery staple"
    assert _patient("POST", f"{stack.url}/auth/register", {"email": email, "password": password})[0] == 202
    ddb = boto3.client("dynamodb", endpoint_url=state["aws_endpoint"], region_name="us-east-1")
    table, key = state["names"]["AuthTable"], {"pk": {"S": f"USER#{email}"}, "sk": {"S": "PROFILE"}}
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET email_verified = :t",
                    ExpressionAttributeValues={":t": {"BOOL": True}})  # fmt: skip
    status, tokens, headers = _patient("POST", f"{stack.url}/auth/login", {"email": email, "password": password})
    assert status == 200, tokens
    fingerprint = SimpleCookie(headers["Set-Cookie"])[FINGERPRINT_COOKIE].value
    auth = {"Authorization": f"Bearer {tokens['access_token']}", "Cookie": f"{FINGERPRINT_COOKIE}={fingerprint}"}

    assert request("POST", f"{stack.url}/billing/checkout", {"plan": "gold"}, headers=auth)[0] == 422
    status, session, _ = request("POST", f"{stack.url}/billing/checkout", {"plan": "pro"}, headers=auth)
    assert status == 201, session
    assert session["url"] == f"{state['stripe']}/checkout/pay/{session['session_id']}"
    pay = urllib.request.Request(session["url"], data=b"", method="POST", headers={"Accept": "application/json"})
    with urllib.request.urlopen(pay, timeout=30) as answer:
        assert json.loads(answer.read())["status"] == "complete"
    deadline, plan = time.monotonic() + 20, None
    while time.monotonic() < deadline:
        plan = ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"].get("plan", {}).get("S")
        if plan == "pro":
            break
        time.sleep(0.2)
    assert plan == "pro"
