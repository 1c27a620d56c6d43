"""The real ``statemachines/booking.asl.json`` executing under moto's Step Functions interpreter (the session's in-
process moto server, not ``mock_aws``: entering ``mock_aws`` resets every moto backend of the process, the server's
tables included, under the other integration tests of the same xdist worker), its Lambda tasks running the real step
handlers (``functions/booking_*``) over one shared in-memory world (store, Stripe, sandbox-like provider): the fault
matrix of issue 12 section 3.

moto runs an execution in a thread and really sleeps between retries: the definition's ``IntervalSeconds`` are
rewritten to 1 and ``JitterStrategy`` kept, so a case takes a few seconds. Printed: the matrix as a table.
"""

from __future__ import annotations

import importlib
import io
import json
import re
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gpubroker.domain.bookings import BookingStatus
from gpubroker.domain.errors import PaymentsUnavailable, ProviderRejected, ProviderUnavailable
from tests.events import Ctx
from tests.fakes_saga import SagaWorld
from tests.integration.conftest import Endpoint

pytestmark = pytest.mark.integration

ASL = "statemachines/booking.asl.json"
STEPS = ("validate", "reserve", "charge", "await_payment", "confirm", "notify", "refund", "release", "fail",
         "attention")  # fmt: skip


def logical_id(step: str) -> str:
    return "Booking" + "".join(p.capitalize() for p in step.split("_")) + "Function"


@dataclass
class Harness:
    world: SagaWorld
    sfn: Any
    machine_arn: str
    step_faults: dict[str, list[Exception]]
    after_faults: dict[str, list[str]]  # the handler ran, then the invocation failed with this error type
    invocations: list[str]

    def run(self, key: str, **booking: Any) -> tuple[str, Any]:
        b = self.world.booking(key, **booking)
        given = json.dumps({"booking_id": b.booking_id, "user_id": b.user_id, "correlation_id": f"req-{key}"})
        arn = self.sfn.start_execution(stateMachineArn=self.machine_arn, name=b.booking_id, input=given)["executionArn"]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            out = self.sfn.describe_execution(executionArn=arn)
            if out["status"] != "RUNNING":
                return out["status"], self.world.get(b)
            time.sleep(0.05)
        raise AssertionError(f"execution {arn} still running")


def definition(root: Any, arns: dict[str, str], payment_timeout_s: int = 5) -> str:
    text = (root / ASL).read_text()
    for lid, arn in arns.items():
        text = text.replace("${" + lid + "Arn}", arn)
    text = text.replace("${PaymentTimeoutSeconds}", str(payment_timeout_s))
    assert "${" not in text
    doc = json.loads(text)
    for state in doc["States"].values():
        for retrier in state.get("Retry", []):
            retrier["IntervalSeconds"] = 1
            retrier["BackoffRate"] = 1.0
    return json.dumps(doc)


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch, endpoint: Endpoint) -> Iterator[Harness]:
    import boto3
    from moto.awslambda.models import LambdaFunction
    from moto.core.config import default_user_config

    from infra.local.template import ROOT

    port = endpoint.url.rsplit(":", 1)[1]
    if not endpoint.url.startswith("http://127.0.0.1:") or not port.isdigit():
        pytest.skip("needs the in-process moto server (its Lambda invoke is patched here)")
    # the interpreter's Lambda tasks call the server at MOTO_PORT; executions run only with this switch on
    monkeypatch.setenv("MOTO_PORT", port)
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    run = uuid.uuid4().hex[:8]
    world = SagaWorld()
    faults: dict[str, list[Exception]] = {}
    after: dict[str, list[str]] = {}
    invocations: list[str] = []
    step_of: dict[str, str] = {}

    def invoke(self: Any, body: str, request_headers: Any, response_headers: Any) -> bytes:
        step = step_of[self.function_name]
        invocations.append(step)
        event = json.loads(body) if body else {}
        try:
            queue = faults.get(step)
            if queue:
                raise queue.pop(0)
            module = importlib.import_module(f"functions.booking_{step}.handler")
            out = module.lambda_handler(event, Ctx(), world.deps(step))
            if after.get(step):  # e.g. the function timed out after its work was done: the answer is lost
                error = after[step].pop(0)
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps({"errorType": error, "errorMessage": "Task timed out after 30.00 seconds"}).encode()
            return json.dumps(out).encode()
        except Exception as exc:  # what the Lambda runtime answers for an unhandled exception
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()

    monkeypatch.setattr(LambdaFunction, "invoke", invoke)
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=endpoint.url)
    iam.create_role(RoleName=f"booking-saga-{run}", AssumeRolePolicyDocument="{}")
    role = f"arn:aws:iam::123456789012:role/booking-saga-{run}"
    lam = boto3.client("lambda", region_name="us-east-1", endpoint_url=endpoint.url)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def lambda_handler(event, context):\n    return event\n")
    arns = {}
    for step in STEPS:
        name = f"booking-{step}-{run}"
        step_of[name] = step
        made = lam.create_function(FunctionName=name, Runtime="python3.12", Role=role,
                                   Handler="handler.lambda_handler", Code={"ZipFile": buf.getvalue()})  # fmt: skip
        arns[logical_id(step)] = made["FunctionArn"]
    sfn = boto3.client("stepfunctions", region_name="us-east-1", endpoint_url=endpoint.url)
    machine = sfn.create_state_machine(name=f"booking-{run}", definition=definition(ROOT, arns), roleArn=role,
                                       type="STANDARD")  # fmt: skip
    yield Harness(world, sfn, machine["stateMachineArn"], faults, after, invocations)


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[Harness], object]
    execution: str
    status: BookingStatus
    actions: tuple[str, ...]
    reason: str | None = None
    invoked: tuple[tuple[str, int], ...] = ()  # (step, invocations): the retries the state machine made


def _decline(h: Harness) -> None:
    customer = h.world.payments.customer_for("u_alice", "alice@example.test")
    h.world.payments.saved[customer] = "pm_declined"
    h.world.payments.decline.add("pm_declined")


CASES = [
    Case("happy path", lambda h: None, "SUCCEEDED", BookingStatus.CONFIRMED, ("booking.confirm",)),
    Case(
        "validate fails (offer gone)",
        lambda h: h.world.offers.items.clear(),
        "FAILED",
        BookingStatus.FAILED,
        ("booking.fail",),
        "offer_not_found",
    ),
    Case(
        "reserve fails (no capacity)",
        lambda h: setattr(h.world.capacity, "limit", 0),
        "FAILED",
        BookingStatus.FAILED,
        ("booking.fail",),
        "no_capacity",
    ),
    Case(
        "reserve transient x2, then ok",
        lambda h: h.world.capacity.fail_next.update(reserve=[ProviderUnavailable("503", provider="sandbox")] * 2),
        "SUCCEEDED",
        BookingStatus.CONFIRMED,
        ("booking.confirm",),
        invoked=(("reserve", 3),),
    ),
    Case("charge fails (declined)", _decline, "FAILED", BookingStatus.FAILED, ("booking.fail",), "payment_failed"),
    Case(
        "charge times out after Stripe charged",
        lambda h: h.world.payments.fail_next.update(charge=[("after", PaymentsUnavailable("timeout"))]),
        "SUCCEEDED",
        BookingStatus.CONFIRMED,
        ("booking.confirm",),
    ),
    Case(
        "charge: Lambda timeout after it charged",
        lambda h: h.after_faults.update(charge=["Sandbox.Timedout"]),
        "SUCCEEDED",
        BookingStatus.CONFIRMED,
        ("booking.confirm",),
        invoked=(("charge", 2),),
    ),
    Case(
        "confirm fails",
        lambda h: h.world.capacity.fail_next.update(describe=[ProviderRejected("instance lost", provider="sandbox")]),
        "FAILED",
        BookingStatus.FAILED,
        ("booking.refund", "booking.fail"),
        "provider_rejected",
    ),
    Case(
        "notify fails (best effort)",
        lambda h: h.world.notifier.fail_next.extend([RuntimeError("ws down")] * 9),
        "SUCCEEDED",
        BookingStatus.CONFIRMED,
        ("booking.confirm",),
    ),
    Case(
        "confirm fails, refund fails once",
        lambda h: (
            h.world.capacity.fail_next.update(describe=[ProviderRejected("instance lost", provider="sandbox")]),
            h.world.payments.fail_next.update(refund=[("before", PaymentsUnavailable("503"))]),
        ),
        "FAILED",
        BookingStatus.FAILED,
        ("booking.refund", "booking.fail"),
        "provider_rejected",
        invoked=(("confirm", 1), ("refund", 2), ("release", 1)),
    ),
    Case(
        "confirm fails, release fails for good",
        lambda h: h.world.capacity.fail_next.update(
            describe=[ProviderRejected("instance lost", provider="sandbox")],
            release=[ProviderUnavailable("503", provider="sandbox")] * 20,
        ),
        "FAILED",
        BookingStatus.NEEDS_ATTENTION,
        ("booking.refund", "booking.attention"),
        "compensation_failed",
        invoked=(("release", 4), ("fail", 0), ("attention", 1)),  # 1 + 3 retries, then Catch -> Attention
    ),
]

MATRIX: list[tuple[str, ...]] = []


@pytest.fixture(scope="module", autouse=True)
def print_matrix(request: pytest.FixtureRequest) -> Iterator[None]:
    """The fault matrix as a table, once, after the module's cases (shown without ``-s`` too)."""
    yield
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        _print_matrix()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fault_matrix(case: Case, harness: Harness) -> None:
    case.setup(harness)
    started = time.monotonic()
    execution, booking = harness.run("k-" + re.sub(r"\W+", "-", case.name))
    took = time.monotonic() - started
    world = harness.world
    live = world.capacity.live()
    net = world.payments.net_charged()
    confirmed = sum(b.amount.amount_minor for b in world.bookings.items.values()
                    if b.status == BookingStatus.CONFIRMED and b.amount is not None)  # fmt: skip
    actions = tuple(world.actions(booking))
    MATRIX.append((case.name, execution, booking.status.value, booking.reason or "-", str(len(live)),
                   f"{net}/{confirmed}", ",".join(actions), f"{took:.1f}s"))  # fmt: skip
    assert execution == case.execution
    assert booking.status == case.status
    assert booking.status in {BookingStatus.CONFIRMED} | {BookingStatus.FAILED, BookingStatus.NEEDS_ATTENTION}
    assert booking.reason == case.reason
    assert actions == case.actions
    for step, count in case.invoked:
        assert harness.invocations.count(step) == count, (step, harness.invocations)
    assert net == confirmed, "charges - refunds must equal the confirmed bookings' amounts"
    assert len(world.payments.intents) <= 1, "never two charges for one booking"
    if booking.status == BookingStatus.FAILED:
        assert live == [], "no instance left running for a failed booking"
    if booking.status == BookingStatus.CONFIRMED:
        assert live == [booking.instance_id]
        assert booking.connection and booking.connection["host"] == "10.0.0.7"
        assert list(world.payments.meter_events) == [f"booking:{booking.booking_id}:usage"]
    if booking.status == BookingStatus.NEEDS_ATTENTION:
        assert [m["booking_id"] for m in world.dlq.messages] == [booking.booking_id]
        assert world.dlq.messages[0]["instance_id"] == booking.instance_id
        assert booking.refund_id is not None
    else:
        assert world.dlq.messages == []


def test_checkout_path_waits_for_the_webhook_token(harness: Harness) -> None:
    """No saved card: AwaitPayment stores a task token; the webhook's half (record the PaymentIntent, send the
    token back) lets the execution confirm."""
    import threading

    from gpubroker.services.booking_saga import record_checkout_payment

    world = harness.world
    world.payments.saved.clear()
    result: dict[str, Any] = {}

    def pay() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for b in list(world.bookings.items.values()):
                if b.status == BookingStatus.AWAITING_PAYMENT and b.task_token:
                    intent = world.payments.charge(customer_id="cus_1", payment_method="pm_checkout", amount=b.amount,
                                                   idempotency_key="checkout-paid", metadata={})  # fmt: skip
                    paid = record_checkout_payment(world.bookings, b.user_id, b.booking_id, intent, world.clock.now())
                    assert paid is not None and paid.task_token
                    harness.sfn.send_task_success(taskToken=paid.task_token,
                                                  output=json.dumps({"payment_intent_id": intent}))  # fmt: skip
                    result["paid"] = intent
                    return
            time.sleep(0.05)

    payer = threading.Thread(target=pay)
    payer.start()
    execution, booking = harness.run("k-checkout")
    payer.join()
    assert execution == "SUCCEEDED", harness.invocations
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.payment_intent_id == result["paid"]
    assert booking.checkout_url and booking.checkout_url.startswith("https://checkout.test/")
    MATRIX.append(("checkout (webhook token)", execution, booking.status.value, "-", str(len(world.capacity.live())),
                   f"{world.payments.net_charged()}/{booking.amount.amount_minor if booking.amount else 0}",
                   ",".join(world.actions(booking)), "-"))  # fmt: skip


def test_checkout_expiry_fails_the_booking(harness: Harness) -> None:
    """The Checkout Session expired (the webhook sends ``PaymentTimeout``): released, failed ``payment_timeout``."""
    import threading

    world = harness.world
    world.payments.saved.clear()

    def expire() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for b in list(world.bookings.items.values()):
                if b.status == BookingStatus.AWAITING_PAYMENT and b.task_token:
                    harness.sfn.send_task_failure(taskToken=b.task_token, error="PaymentTimeout", cause="expired")
                    return
            time.sleep(0.05)

    t = threading.Thread(target=expire)
    t.start()
    execution, booking = harness.run("k-expired")
    t.join()
    assert execution == "FAILED"
    assert booking.status == BookingStatus.FAILED
    assert booking.reason == "payment_timeout"
    assert world.capacity.live() == []
    assert world.payments.net_charged() == 0


def _print_matrix() -> None:
    head = ("case", "execution", "booking", "reason", "live", "net/confirmed", "audit", "time")
    rows = [head, *MATRIX]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    print("\nBooking saga fault matrix (moto, real ASL):\n" + "\n".join(lines))
