"""Booking end to end on the local stack: the real state machine executing in moto, its steps in the stack's
Runtime, the sandbox provider in Redis and the local Stripe server behind the official SDK (issue 12).

- a first booking with no saved card waits for Checkout (the saga's task token), is paid on the local pay page and
  confirmed; the next one charges the saved card; the owner's signed-in WebSocket hears each status, another
  user's connection hears nothing;
- the fault matrix (§3): each step failed in turn, the first compensation failed once, a compensation failed for
  good, a Lambda timeout after the charge; for every case the terminal status, the sandbox's live instances,
  Stripe's charges - refunds and the audit log are checked, and the matrix is printed;
- 50 concurrent requests with one Idempotency-Key: one booking, one execution, one charge;
- cancel: the pro-rata refund, the instance released, a second cancel 409; and the bad inputs of §6.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import stripe
from websockets.sync.client import ClientConnection, connect

from gpubroker.adapters.provisioning.sandbox import SandboxCapacity
from gpubroker.domain.bookings import step_key
from infra.local.faults import clear_faults, set_fault
from infra.local.sigv4 import LocalCredentials
from tests.e2e.bookings_client import SETTLED, Booker, available_offer, dynamodb
from tests.e2e.conftest import Stack, request

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

LOCAL_STRIPE_KEY = "sk_test_gpubroker_local"


@dataclass
class World:
    """What the tests look at besides the API: Stripe, the sandbox, the audit table, the faults."""

    stack: Stack
    state: dict[str, Any]
    creds: LocalCredentials
    stripe: stripe.StripeClient
    sandbox: SandboxCapacity
    offer: dict[str, Any] = field(default_factory=dict)

    def fault(self, function: str, *, error: str = "RuntimeError", times: int = 1, when: str = "before") -> None:
        rule = {"function": function, "error": error, "times": times, "when": when,
                "message": f"injected by the e2e fault matrix ({function})"}  # fmt: skip
        set_fault(self.stack.url, rule, self.creds)

    def clear(self) -> None:
        clear_faults(self.stack.url, self.creds)

    def live_instances(self, booking_id: str) -> list[str]:
        key = step_key(booking_id, "reserve")
        return [r.instance_id for r in self.sandbox.list_instances() if r.idempotency_key == key]

    def money(self, booking: dict[str, Any]) -> tuple[int, int]:
        """(charged, refunded) at Stripe for the booking's PaymentIntent, in cents."""
        intent_id = booking.get("payment_intent_id") or self._intent_of(booking["booking_id"])
        if not intent_id:
            return 0, 0
        intent = self.stripe.v1.payment_intents.retrieve(intent_id)
        charged = intent.amount if intent.status == "succeeded" else 0
        refunds = self.stripe.v1.refunds.list({"payment_intent": intent_id, "limit": 100})
        return charged, sum(r.amount for r in refunds.data if r.status == "succeeded")

    def _intent_of(self, booking_id: str) -> str | None:
        item = dynamodb(self.state).scan(TableName=self.state["names"]["BookingsTable"],
                                         FilterExpression="booking_id = :b",
                                         ExpressionAttributeValues={":b": {"S": booking_id}})["Items"]  # fmt: skip
        return item[0].get("payment_intent_id", {}).get("S") if item else None

    def audit_actions(self, booking_id: str) -> list[str]:
        table = self.state["names"]["AuditTable"]
        wanted = {":r": {"S": f"booking/{booking_id}"}}
        items = dynamodb(self.state).scan(TableName=table, FilterExpression="#r = :r",
                                          ExpressionAttributeNames={"#r": "resource"},
                                          ExpressionAttributeValues=wanted)["Items"]  # fmt: skip
        return sorted(i["action"]["S"] for i in items)

    @classmethod
    def of(cls, stack: Stack) -> World:
        """The world of a running local stack (its state file), with a bookable offer of 0.5 USD/h or more."""
        state = json.loads(stack.state_file.read_text())
        client = stripe.StripeClient(LOCAL_STRIPE_KEY, base_addresses={"api": state["stripe"]})
        sandbox = SandboxCapacity.from_env({"GPUBROKER_SANDBOX_REDIS_URL": state["sandbox"]["redis_url"],
                                            "GPUBROKER_SANDBOX_PREFIX": state["sandbox"]["prefix"]})  # fmt: skip
        w = cls(stack, state, LocalCredentials.from_state(state), client, sandbox)
        w.offer = available_offer(stack.url, stack.auth, min_price=0.5)
        return w


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    if not stack.auth:
        pytest.skip("needs the local stack (its faults, sandbox and Stripe server)")
    w = World.of(stack)
    yield w
    w.clear()


def pay_checkout(url: str) -> None:
    """Pay as the pay page's form does; like Stripe, the answer sends the payer back to the web app's return page
    (``<AppUrl>/billing/done``, the booking named), not followed here."""
    status, _, headers = raw_post(url)
    assert status == 303, status
    assert "/app/billing/done?session_id=cs_" in headers["Location"] and "&booking_id=bk_" in headers["Location"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def raw_post(url: str) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(url, data=b"payment_method=pm_card_visa", method="POST",
                                 headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    try:
        with urllib.request.build_opener(_NoRedirect).open(req, timeout=30) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:  # a 3xx not followed, or a 4xx
        return exc.code, exc.read(), dict(exc.headers)


def booker_with_card(world: World) -> Booker:
    """A verified user whose first booking went through Checkout: the card is saved for the next ones."""
    b = Booker.signed_in(world.stack.url, world.stack.state_file)
    status, first = b.book(world.offer["offer_id"], hours=1)
    assert status == 202, first
    waiting = b.wait(first["booking_id"], SETTLED | {"awaiting_payment"})
    assert waiting["status"] == "awaiting_payment" and waiting["checkout_url"], waiting
    pay_checkout(waiting["checkout_url"])
    assert b.wait(first["booking_id"])["status"] == "confirmed"
    return b


def ws_for(b: Booker, ws_url: str) -> ClientConnection:
    token = b.headers["Authorization"].removeprefix("Bearer ")
    return connect(f"{ws_url}/?token={token}", additional_headers={"Cookie": b.headers["Cookie"]}, open_timeout=10)


def booking_messages(
    ws: ClientConnection, booking_id: str | None, until: str | None, timeout_s: float = 30
) -> list[str]:
    """The statuses the connection heard (of ``booking_id``, or of any booking when None) until ``until``."""
    heard: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            message = json.loads(ws.recv(timeout=max(0.05, deadline - time.monotonic())))
        except TimeoutError:
            break
        if message.get("type") != "booking":
            continue
        booking = message.get("booking") or message
        if booking_id is None or booking.get("booking_id") == booking_id:
            heard.append(booking["status"])
            if booking["status"] == until:
                break
    return heard


INTERMEDIATE = ["pending", "price_locked", "reserved", "awaiting_payment", "charged"]  # in the saga's order


def test_a_user_books_through_checkout_then_with_the_saved_card_and_hears_each_status(
    stack: Stack, world: World
) -> None:
    assert stack.ws_url
    alice = Booker.signed_in(stack.url, stack.state_file)
    mallory = Booker.signed_in(stack.url, stack.state_file)
    with ws_for(alice, stack.ws_url) as ws, ws_for(mallory, stack.ws_url) as other:
        status, first = alice.book(world.offer["offer_id"], hours=2)
        assert status == 202 and first["status"] == "pending" and first["status_url"].endswith(first["booking_id"])
        waiting = alice.wait(first["booking_id"], SETTLED | {"awaiting_payment"})
        assert waiting["status"] == "awaiting_payment", waiting
        assert waiting["amount"]["amount"] > 0 and waiting["checkout_url"].startswith(world.state["stripe"])
        pay_checkout(waiting["checkout_url"])
        done = alice.wait(first["booking_id"])
        assert done["status"] == "confirmed" and done["connection"], done
        heard = booking_messages(ws, first["booking_id"], until="confirmed")
        # the intermediate statuses come from the bookings stream (stream_push_bookings), the outcome from Notify
        assert heard[-1:] == ["confirmed"] and "awaiting_payment" in heard, heard
        steps = [s for s in heard if s in INTERMEDIATE]
        assert steps == sorted(steps, key=INTERMEDIATE.index) and len(set(steps)) == len(steps), heard
        status, second = alice.book(world.offer["offer_id"], hours=1)  # the card Checkout saved
        assert status == 202
        assert alice.wait(second["booking_id"])["status"] == "confirmed"
        assert "confirmed" in booking_messages(ws, second["booking_id"], until="confirmed")
        assert booking_messages(other, None, until=None, timeout_s=1) == []  # never another user's booking
    status, page, _ = request("GET", f"{stack.url}/bookings?limit=10", headers=alice.headers)
    assert status == 200 and [b["booking_id"] for b in page["items"]] == [second["booking_id"], first["booking_id"]]
    for booking in (done, alice.get(second["booking_id"])[1]):
        charged, refunded = world.money(booking)
        assert (charged, refunded) == (booking["amount"]["amount"], 0)
        assert len(world.live_instances(booking["booking_id"])) == 1
        assert world.audit_actions(booking["booking_id"]) == ["booking.confirm", "booking.create"]


@dataclass(frozen=True)
class Case:
    name: str
    faults: tuple[tuple[str, dict[str, Any]], ...]
    status: str
    actions: tuple[str, ...]
    reason: str | None = None


F = "Booking{}Function".format
CASES = [
    Case("happy path", (), "confirmed", ("booking.confirm", "booking.create")),
    Case("validate fails", ((F("Validate"), {"error": "RuntimeError", "times": 9}),), "failed",
         ("booking.create", "booking.fail"), "step_failed"),
    Case("reserve fails", ((F("Reserve"), {"error": "NoCapacity", "times": 9}),), "failed",
         ("booking.create", "booking.fail"), "no_capacity"),
    Case("charge fails", ((F("Charge"), {"error": "PaymentDeclined", "times": 9}),), "failed",
         ("booking.create", "booking.fail"), "payment_failed"),
    Case("confirm fails", ((F("Confirm"), {"error": "RuntimeError", "times": 9}),), "failed",
         ("booking.create", "booking.fail", "booking.refund")),
    Case("notify fails", ((F("Notify"), {"error": "RuntimeError", "times": 9}),), "confirmed",
         ("booking.confirm", "booking.create")),
    Case("confirm fails, first compensation (refund) fails once",
         ((F("Confirm"), {"error": "RuntimeError", "times": 9}), (F("Refund"), {"error": "RuntimeError", "times": 1})),
         "failed", ("booking.create", "booking.fail", "booking.refund")),
    Case("confirm fails, release fails for good",
         ((F("Confirm"), {"error": "RuntimeError", "times": 9}), (F("Release"), {"error": "RuntimeError", "times": 9})),
         "needs_attention", ("booking.attention", "booking.create", "booking.refund"), "compensation_failed"),
    Case("Lambda timeout after the charge (retried)", ((F("Charge"), {"error": "Sandbox.Timedout", "times": 1,
                                                                      "when": "after"}),),
         "confirmed", ("booking.confirm", "booking.create")),
]  # fmt: skip


def test_the_fault_matrix_leaves_money_and_capacity_consistent(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    booker = booker_with_card(world)
    rows: list[tuple[object, ...]] = []
    problems: list[tuple[object, ...]] = []
    for case in CASES:
        world.clear()
        for function, rule in case.faults:
            world.fault(function, **rule)
        started = time.monotonic()
        status, answer = booker.book(world.offer["offer_id"], hours=1)
        assert status == 202, answer
        booking = booker.wait(answer["booking_id"], timeout_s=90)
        took = time.monotonic() - started
        world.clear()
        charged, refunded = world.money(booking)
        live = world.live_instances(booking["booking_id"])
        actions = tuple(world.audit_actions(booking["booking_id"]))
        net_ok = charged - refunded == (booking["amount"]["amount"] if booking["status"] == "confirmed" else 0)
        live_ok = len(live) == (
            1 if booking["status"] == "confirmed" else 0 if booking["status"] == "failed" else len(live)
        )
        rows.append((case.name, booking["status"], booking.get("reason") or "-", charged, refunded, len(live),
                     ",".join(actions), f"{took:.1f}s"))  # fmt: skip
        if booking["status"] != case.status or not net_ok or not live_ok or actions != case.actions:
            problems.append((case, booking, charged, refunded, live, actions))
        if case.reason and booking.get("reason") != case.reason:
            problems.append((case, booking, "reason"))
    with capsys.disabled():
        widths = [52, 16, 20, 8, 9, 5, 48, 6]
        head = ("case", "status", "reason", "charged", "refunded", "live", "audit", "time")
        print("\n" + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
        for row in rows:
            print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    assert not problems, problems


def test_fifty_concurrent_requests_with_one_key_make_one_booking_one_execution_one_charge(world: World) -> None:
    booker = booker_with_card(world)
    key = uuid.uuid4().hex

    def post(_: int) -> tuple[int, dict[str, Any]]:
        return booker.book(world.offer["offer_id"], hours=1, key=key)

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(post, range(50)))
    statuses = sorted({s for s, _ in answers})
    assert set(statuses) <= {202, 409}, answers
    ids = {a["booking_id"] for s, a in answers if s == 202}
    assert len(ids) == 1, ids
    booking_id = ids.pop()
    booking = booker.wait(booking_id)
    assert booking["status"] == "confirmed", booking
    sfn = _sfn(world)
    executions = sfn.list_executions(stateMachineArn=world.state["names"]["BookingSagaStateMachine"])["executions"]
    assert [e["name"] for e in executions].count(booking_id) == 1
    intents = world.stripe.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
    mine = [i.id for i in intents if (i.metadata.to_dict() if i.metadata else {}).get("booking_id") == booking_id]
    assert len(mine) == 1, mine
    replay = post(0)
    assert replay[0] == 202 and replay[1]["booking_id"] == booking_id


def _sfn(world: World) -> Any:
    import boto3

    return boto3.client("stepfunctions", endpoint_url=world.state["aws_endpoint"], region_name="us-east-1")


def test_cancel_refunds_the_hours_not_started_and_releases_the_instance(world: World) -> None:
    booker = booker_with_card(world)
    status, answer = booker.book(world.offer["offer_id"], hours=3)
    assert status == 202
    booking = booker.wait(answer["booking_id"])
    assert booking["status"] == "confirmed" and len(world.live_instances(booking["booking_id"])) == 1
    status, cancelled = booker.cancel(booking["booking_id"])
    assert status == 200, cancelled
    total = booking["amount"]["amount"]
    expected_refund = total - total // 3 if total % 3 == 0 else None  # one started hour of three is kept
    got = cancelled.get("booking", cancelled)
    assert got["status"] == "cancelled"
    if expected_refund is not None:
        assert got["refunded"]["amount"] == expected_refund
    charged, refunded = world.money(got)
    assert charged == total and refunded == got["refunded"]["amount"] > 0
    assert world.live_instances(booking["booking_id"]) == []
    assert booker.cancel(booking["booking_id"])[0] == 409
    assert "booking.cancel" in world.audit_actions(booking["booking_id"])


def test_bad_booking_requests_get_their_codes(stack: Stack, world: World) -> None:
    alice = Booker.signed_in(stack.url, stack.state_file)
    bob = Booker.signed_in(stack.url, stack.state_file)
    offer_id = world.offer["offer_id"]
    cases: list[tuple[Callable[[], tuple[int, dict[str, Any]]], int, str | None]] = [
        (lambda: alice.book("no-such-offer-1234"), 404, None),
        (lambda: alice.book(offer_id, hours=0), 422, None),
        (lambda: alice.book(offer_id, hours=721), 422, None),
        (
            lambda: request("POST", f"{stack.url}/bookings", {"offer_id": offer_id, "hours": 1}, headers=alice.headers)[
                :2
            ],
            400,
            "idempotency_key_required",
        ),
        (
            lambda: request(
                "POST", f"{stack.url}/bookings", {"offer_id": offer_id, "hours": 1}, headers={"Idempotency-Key": "k"}
            )[:2],
            401,
            None,
        ),
    ]
    for call, expected, code in cases:
        status, body = call()
        assert status == expected, (expected, status, body)
        if code:
            assert body["error"]["code"] == code, body
    key = uuid.uuid4().hex
    assert alice.book(offer_id, hours=1, key=key)[0] == 202
    status, body = alice.book(offer_id, hours=2, key=key)
    assert (status, body["error"]["code"]) == (422, "idempotency_key_reused")
    booking_id = alice.book(offer_id, hours=1, key=key)[1]["booking_id"]
    assert bob.get(booking_id)[0] == 404 and bob.cancel(booking_id)[0] == 404
    unverified_headers, _ = __import__("tests.e2e.conftest", fromlist=["session"]).session(
        stack.url, stack.state_file, plan="free", roles=("user",)
    )
    status, body, _ = request("POST", f"{stack.url}/bookings", {"offer_id": offer_id, "hours": 1},
                              headers={**unverified_headers, "Idempotency-Key": "x"})  # fmt: skip
    assert (status, body["error"]["code"]) == (403, "email_not_verified")
    alice.wait(booking_id, SETTLED | {"awaiting_payment"})
