"""Observability end to end on the local stack (issue 16 §1): one correlation id followed through a booking (the
API's answer, the saga's execution input, the booking record, the WebSocket messages, the audit entries), and
``GET /_local/metrics`` showing what the functions would publish (per-route requests and latency, the bookings)."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import boto3
import pytest

from tests.e2e.bookings_client import SETTLED, Booker, available_offer, dynamodb
from tests.e2e.conftest import Stack, request
from tests.e2e.test_bookings import pay_checkout, ws_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]


def _metrics(url: str, **query: str) -> list[dict[str, Any]]:
    q = "&".join(f"{k}={v}" for k, v in query.items())
    with urllib.request.urlopen(f"{url}/_local/metrics?{q}", timeout=10) as resp:
        series: list[dict[str, Any]] = json.loads(resp.read())["series"]
        return series


def _audit_request_ids(state: dict[str, Any], booking_id: str) -> dict[str, str]:
    items = dynamodb(state).scan(TableName=state["names"]["AuditTable"], FilterExpression="#r = :r",
                                 ExpressionAttributeNames={"#r": "resource"},
                                 ExpressionAttributeValues={":r": {"S": f"booking/{booking_id}"}})["Items"]  # fmt: skip
    return {i["action"]["S"]: i["request_id"]["S"] for i in items}


def test_one_correlation_id_follows_a_booking_from_the_api_to_the_audit_log(stack: Stack) -> None:
    if not stack.auth or not stack.ws_url:
        pytest.skip("needs the local stack (its state machine, WebSocket and audit table)")
    state = json.loads(stack.state_file.read_text())
    offer = available_offer(stack.url, stack.auth, min_price=0.5)
    alice = Booker.signed_in(stack.url, stack.state_file)
    with ws_for(alice, stack.ws_url) as ws:
        headers = {**alice.headers, "Idempotency-Key": f"obs-{time.time_ns()}"}
        body = {"offer_id": offer["offer_id"], "hours": 1}
        status, accepted, answer_headers = request("POST", f"{stack.url}/bookings", body, headers=headers)
        assert status == 202, accepted
        cid = {k.lower(): v for k, v in answer_headers.items()}["x-correlation-id"]
        booking_id = accepted["booking_id"]
        waiting = alice.wait(booking_id, SETTLED | {"awaiting_payment"})
        assert waiting["status"] == "awaiting_payment", waiting
        pay_checkout(waiting["checkout_url"])
        assert alice.wait(booking_id)["status"] == "confirmed"
        heard: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(m["booking"]["status"] == "confirmed" for m in heard):
            try:
                message = json.loads(ws.recv(timeout=max(0.05, deadline - time.monotonic())))
            except TimeoutError:
                break
            if message.get("type") == "booking" and message["booking"]["booking_id"] == booking_id:
                heard.append(message)
    assert heard and {m.get("correlation_id") for m in heard} == {cid}, heard  # every WebSocket message
    sfn = boto3.client("stepfunctions", endpoint_url=state["aws_endpoint"], region_name="us-east-1")
    machine = state["names"]["BookingSagaStateMachine"]  # its ARN
    execution = sfn.describe_execution(executionArn=f"{machine.replace(':stateMachine:', ':execution:')}:{booking_id}")
    assert json.loads(execution["input"])["correlation_id"] == cid  # the saga's input, which every step logs under
    item = dynamodb(state).scan(TableName=state["names"]["BookingsTable"], FilterExpression="booking_id = :b",
                                ExpressionAttributeValues={":b": {"S": booking_id}})["Items"][0]  # fmt: skip
    assert item["correlation_id"]["S"] == cid
    assert _audit_request_ids(state, booking_id) == {"booking.create": cid, "booking.confirm": cid}


def test_local_metrics_show_what_the_functions_would_publish(stack: Stack) -> None:
    if not stack.auth:
        pytest.skip("needs the local stack")
    for _ in range(3):
        status, _, _ = request("GET", f"{stack.url}/offers?limit=1", headers=stack.auth)
        assert status == 200
    status, _, _ = request("GET", f"{stack.url}/offers?no_such_parameter=1", headers=stack.auth)
    assert status == 400
    per_status = _metrics(stack.url, name="Requests", dimension="route,status_class")
    counts = {(s["dimensions"]["route"], s["dimensions"]["status_class"]): s["count"] for s in per_status}
    assert counts[("GET /offers", "2xx")] >= 3 and counts[("GET /offers", "4xx")] >= 1, counts
    by_route = {s["dimensions"]["route"]: s for s in _metrics(stack.url, name="Latency", dimension="route")}
    latency = by_route["GET /offers"]
    assert latency["unit"] == "Milliseconds" and latency["count"] >= 4 and 0 < latency["p50"] <= latency["p99"]
    with urllib.request.urlopen(f"{stack.url}/_local/metrics?format=text&name=Requests", timeout=10) as resp:
        table = resp.read().decode()
    assert table.splitlines()[0].startswith("metric") and "route=GET /offers" in table
