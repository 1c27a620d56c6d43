"""The booking routes' adapters and POST /bookings on the AWS-compatible endpoint (moto): the store's conditional
writes, newest-first pages and sealed connection details; the notifier on the connections table's ``by_user``
index (two users, an anonymous connection, a gone one); the saga starter on a real Step Functions state machine;
and the issue's 50 concurrent requests with one key through Powertools Idempotency -> 1 booking, 1 saga start."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gpubroker.adapters.aws import client
from gpubroker.adapters.booking_push import WebSocketBookingNotifier
from gpubroker.adapters.booking_store import DynamoBookingStore
from gpubroker.adapters.dynamodb import DynamoOfferRepository
from gpubroker.adapters.saga_starter import StepFunctionsSagaStarter
from gpubroker.adapters.secretbox import KmsSecretBox
from gpubroker.api.booking_models import public_view
from gpubroker.domain.bookings import Booking, BookingStatus, booking_id_for
from gpubroker.domain.errors import InvalidCursor
from gpubroker.domain.money import Money
from gpubroker.services.bookings import CreateDeps
from gpubroker.wiring import edge
from gpubroker.wiring.bookings import BookingCreateApiDeps, booking_create_deps, idempotency_store
from tests.events import Ctx
from tests.fakes import UNLIMITED, FixedClock
from tests.fakes_booking_routes import ME, offer
from tests.integration.conftest import Endpoint

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def booking(user: str, key: str, at: datetime = T0, **kw: Any) -> Booking:
    return Booking(booking_id=booking_id_for(user, key), user_id=user, offer_id="runpod-a100-1", provider="runpod",
                   gpu_model="A100", gpu_count=2, hours=5, status=BookingStatus.PENDING, created_at=at,
                   updated_at=at, **kw)  # fmt: skip


@pytest.fixture
def store(endpoint: Endpoint) -> DynamoBookingStore:
    return DynamoBookingStore(endpoint.names["BookingsTable"])


def test_create_is_once_and_save_is_conditional_on_the_version(store: DynamoBookingStore) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    b = booking(user, "k", max_price_per_hour=Money(350, "usd"), reason_detail={"x": [1, "y"]})
    assert store.create(b) and not store.create(b)
    assert store.get(user, b.booking_id) == b
    confirmed = b.with_status(BookingStatus.CONFIRMED, T0 + timedelta(minutes=3), amount=Money(1234, "usd"),
                              confirmed_at=T0 + timedelta(minutes=3), instance_id="i-1")  # fmt: skip
    assert store.save(confirmed)
    assert not store.save(confirmed)  # the same version again: someone wrote it already
    stale = b.with_status(BookingStatus.FAILED, T0, reason="step_failed")
    assert not store.save(stale)
    assert store.get(user, b.booking_id) == confirmed
    unset = confirmed.with_status(BookingStatus.CONFIRMED, T0, instance_id=None)
    assert store.save(unset) and store.get(user, b.booking_id) == unset  # a field set to None is removed
    assert store.get("someone-else", b.booking_id) is None
    assert not store.save(booking(user, "never-created").with_status(BookingStatus.CONFIRMED, T0))


def test_concurrent_saves_of_one_version_one_wins(store: DynamoBookingStore) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    b = booking(user, "race")
    assert store.create(b)
    attempts = [b.with_status(BookingStatus.PRICE_LOCKED, T0, reason_detail={"n": n}) for n in range(16)]
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(store.save, attempts))
    assert won.count(True) == 1
    assert store.get(user, b.booking_id) == attempts[won.index(True)]


def test_list_is_newest_first_in_pages_within_the_users_partition(store: DynamoBookingStore) -> None:
    user, other = f"u-{uuid.uuid4().hex[:8]}", f"u-{uuid.uuid4().hex[:8]}"
    made = [booking(user, f"k{i}", T0 + timedelta(seconds=i // 2)) for i in range(7)]  # pairs share a timestamp
    for b in made:
        assert store.create(b)
    assert store.create(booking(other, "k0"))
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page, cursor = store.list(user, limit=3, cursor=cursor)
        seen += [b.booking_id for b in page]
        if cursor is None:
            break
    expected = [b.booking_id for b in sorted(made, key=lambda b: (b.created_at, b.booking_id), reverse=True)]
    assert seen == expected
    assert store.list(user, limit=7) == (sorted(made, key=lambda b: (b.created_at, b.booking_id), reverse=True), None)
    for bad in ("x", "eyJrIjoiMSJ9", "bm90IGpzb24"):
        with pytest.raises(InvalidCursor):
            store.list(user, limit=3, cursor=bad)


def test_connection_details_are_sealed_at_rest_and_a_store_without_the_key_leaves_them(
    endpoint: Endpoint, store: DynamoBookingStore
) -> None:
    sealed = DynamoBookingStore(store.table_name, box=KmsSecretBox(endpoint.names["BookingSecretsKey"],
                                                                   purpose="gpubroker-booking-connection"))  # fmt: skip
    user = f"u-{uuid.uuid4().hex[:8]}"
    b = booking(user, "conn")
    assert sealed.create(b)
    secret = {"host": "203.0.113.9", "ssh_private_key": "-----BEGIN KEY-----abc"}
    done = b.with_status(BookingStatus.CONFIRMED, T0, connection=secret)
    assert sealed.save(done)
    key = {"user_id": {"S": user}, "booking_id": {"S": b.booking_id}}
    raw = client("dynamodb").get_item(TableName=store.table_name, Key=key)["Item"]
    assert "connection" not in raw and "203.0.113.9" not in json.dumps(raw)
    assert sealed.get(user, b.booking_id) == done
    plain_read = store.get(user, b.booking_id)
    assert plain_read is not None and plain_read.connection is None  # no key: not opened
    assert store.save(plain_read.with_status(BookingStatus.CANCELLED, T0))  # ... and not erased
    assert sealed.get(user, b.booking_id).connection == secret  # type: ignore[union-attr]
    assert "ssh_private_key" not in repr(done) and "sealed=True" in repr(sealed)


class RecordingPoster:
    def __init__(self, gone: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.gone = set(gone)

    def post(self, connection_id: str, data: bytes) -> bool:
        if connection_id in self.gone:
            return False
        self.sent.append((connection_id, json.loads(data)))
        return True


def test_the_notifier_reaches_the_owners_signed_in_connections_only(
    endpoint: Endpoint, own_connections: Callable[..., None]
) -> None:
    table = endpoint.names["ConnectionsTable"]
    run = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{run}", f"bob-{run}"
    for cid, user in ((f"a1-{run}", alice), (f"a2-{run}", alice), (f"b1-{run}", bob), (f"anon-{run}", None),
                      (f"a-gone-{run}", alice)):  # fmt: skip
        own_connections(cid, at=T0, user_id=user)
    poster = RecordingPoster(gone={f"a-gone-{run}"})
    notifier = WebSocketBookingNotifier(table, poster, view=public_view)
    b = booking(alice, "n").with_status(BookingStatus.CONFIRMED, T0, connection={"host": "h"})
    assert notifier.notify(b) == 2
    assert sorted(cid for cid, _ in poster.sent) == [f"a1-{run}", f"a2-{run}"]
    message = poster.sent[0][1]
    assert message["type"] == "booking" and message["booking"]["booking_id"] == b.booking_id
    assert message["booking"]["status"] == "confirmed" and "connection" not in message["booking"]
    gone = client("dynamodb").get_item(TableName=table, Key={"connection_id": {"S": f"a-gone-{run}"}})
    assert "Item" not in gone  # the gone connection was deleted
    assert notifier.notify(booking(f"nobody-{run}", "n")) == 0


def test_the_saga_starter_starts_one_execution_named_after_the_booking(endpoint: Endpoint) -> None:
    sfn = client("stepfunctions")
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    arn = sfn.create_state_machine(name=f"booking-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition),
                                   roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]  # fmt: skip
    starter = StepFunctionsSagaStarter(arn)
    bid = booking_id_for("u1", uuid.uuid4().hex)
    first = starter.start(bid, "u1", "req-1")
    again = starter.start(bid, "u1", "req-1")
    assert first == again and first.endswith(f":execution:{arn.split(':')[-1]}:{bid}")
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in executions] == [bid]
    given = json.loads(sfn.describe_execution(executionArn=first)["input"])
    assert given == {"booking_id": bid, "user_id": "u1", "correlation_id": "req-1"}


# -- POST /bookings through Powertools Idempotency on the IdempotencyTable ----------------------------------------
class CountingSaga:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def start(self, booking_id: str, user_id: str, correlation_id: str | None = None) -> str:
        with self._lock:
            self.calls[booking_id] += 1
        return f"arn:aws:states:us-east-1:123456789012:execution:booking:{booking_id}"


def environments(n: int) -> list[Any]:
    """``n`` copies of the handler module, each with its own resolver (one request at a time, as a Lambda
    environment serves): a Powertools resolver keeps the current event on itself."""
    path = Path(__file__).parents[2] / "functions" / "api_create_booking" / "handler.py"
    copies = []
    for i in range(n):
        spec = importlib.util.spec_from_file_location(f"create_booking_env_{i}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        copies.append(module)
    return copies


def post(module: Any, deps: Any, key: str, body: dict[str, Any], user: str = ME.user_id) -> tuple[int, dict[str, Any]]:
    from tests.events import rest_event

    ev = rest_event("/bookings", "/bookings")
    ev["httpMethod"] = "POST"
    ev["body"] = json.dumps(body)
    ev["headers"] = {"Content-Type": "application/json", "Idempotency-Key": key}
    ev["multiValueHeaders"] = {k: [v] for k, v in ev["headers"].items()}
    ev["requestContext"]["authorizer"] = replace(ME, user_id=user).to_context()
    res = module.lambda_handler(ev, Ctx(), deps=deps)
    return int(res["statusCode"]), json.loads(res["body"])


@pytest.fixture
def create_world(endpoint: Endpoint) -> tuple[CountingSaga, DynamoBookingStore, Any]:
    offers = DynamoOfferRepository(endpoint.names["OffersTable"])
    offers.put_many([offer("sandbox-a100-1", provider="sandbox")])  # not a provider other tests ingest
    saga = CountingSaga()
    store = DynamoBookingStore(endpoint.names["BookingsTable"])

    def deps() -> BookingCreateApiDeps:  # one per environment: a persistence layer holds its request's state
        create = CreateDeps(store=store, clock=FixedClock(), offers=offers, saga=saga)
        return BookingCreateApiDeps(front_door=UNLIMITED, audit=edge.audit_trail(), create=create,
                                    idempotency=idempotency_store(endpoint.names["IdempotencyTable"]))  # fmt: skip

    return saga, store, deps


def test_50_concurrent_requests_with_one_key_make_one_booking_and_one_saga_start(create_world: Any) -> None:
    saga, store, deps = create_world
    envs = [(module, deps()) for module in environments(10)]
    lock = threading.Lock()
    key = f"key-{uuid.uuid4().hex}"
    user = f"u-{uuid.uuid4().hex[:8]}"
    body = {"offer_id": "sandbox-a100-1", "hours": 3}
    barrier = threading.Barrier(10)

    def one(_: int) -> tuple[int, dict[str, Any]]:
        with lock:
            module, d = envs.pop()
        try:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=2)  # ten at a time, released together
            return post(module, d, key, body, user)
        finally:
            with lock:
                envs.append((module, d))

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(one, range(50)))
    bid = booking_id_for(user, key)
    statuses = Counter(status for status, _ in results)
    accepted = [out for status, out in results if status == 202]
    assert set(statuses) <= {202, 409} and accepted, statuses
    assert all(out == accepted[0] for out in accepted) and accepted[0]["booking_id"] == bid
    assert {out["error"]["code"] for status, out in results if status == 409} <= {"idempotency_in_progress"}
    assert saga.calls == Counter({bid: 1})
    print(f"50 concurrent POST /bookings, one key: {dict(statuses)}; bookings 1, saga starts 1")
    page, _ = store.list(user, limit=10)
    assert [b.booking_id for b in page] == [bid]
    # after the burst, every retry is the replay of the first answer
    module, d = envs[0]
    assert post(module, d, key, body, user) == (202, accepted[0])
    assert post(module, d, key, {**body, "hours": 4}, user)[1]["error"]["code"] == "idempotency_key_reused"
    assert saga.calls == Counter({bid: 1})


def test_the_default_wiring_builds_on_the_endpoint(endpoint: Endpoint) -> None:
    from tests.conftest import clear_wiring_caches

    clear_wiring_caches()
    deps = booking_create_deps()
    assert isinstance(deps.create.store, DynamoBookingStore)
    assert deps.create.store.table_name == endpoint.names["BookingsTable"]
    assert isinstance(deps.create.saga, StepFunctionsSagaStarter)


def test_a_saga_that_cannot_start_is_a_503_and_the_retry_starts_it(endpoint: Endpoint) -> None:
    from gpubroker.domain.errors import SagaUnavailable

    missing = StepFunctionsSagaStarter("arn:aws:states:us-east-1:123456789012:stateMachine:no-such-machine")
    with pytest.raises(SagaUnavailable) as info:
        missing.start(booking_id_for("u1", "k"), "u1")
    assert info.value.code == "saga_unavailable"


def cancel_environments(n: int) -> list[Any]:
    path = Path(__file__).parents[2] / "functions" / "api_cancel_booking" / "handler.py"
    copies = []
    for i in range(n):
        spec = importlib.util.spec_from_file_location(f"cancel_booking_env_{i}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        copies.append(module)
    return copies


def test_concurrent_cancels_through_the_handler_on_dynamodb_refund_once(endpoint: Endpoint) -> None:
    from gpubroker.domain.bookings import step_key
    from gpubroker.services.bookings import CancelDeps
    from gpubroker.wiring.bookings import BookingCancelApiDeps
    from tests.events import rest_event
    from tests.fakes_booking_routes import RecordingCapacity
    from tests.fakes_bookings import MemoryNotifier, MemoryPayments

    store = DynamoBookingStore(endpoint.names["BookingsTable"])
    user = f"u-{uuid.uuid4().hex[:8]}"
    payments, released = MemoryPayments(), []  # type: ignore[var-annotated]
    b = booking(user, "cancel-race")
    assert store.create(b)
    pi = payments.charge(customer_id="cus", payment_method="pm", amount=Money(5_000, "usd"),
                         idempotency_key=step_key(b.booking_id, "charge"), metadata={})  # fmt: skip
    confirmed_at = datetime.now(UTC) - timedelta(minutes=30)  # 1 of 5 hours started: 4/5 back
    assert store.save(b.with_status(BookingStatus.CONFIRMED, confirmed_at, confirmed_at=confirmed_at,
                                    amount=Money(5_000, "usd"), payment_intent_id=pi, instance_id="i-9"))  # fmt: skip
    from gpubroker.wiring.edge import system_clock

    envs = [(m, BookingCancelApiDeps(front_door=UNLIMITED, audit=edge.audit_trail(),
                                     cancel=CancelDeps(store=store, clock=system_clock(), payments=payments,
                                                       capacity=lambda p: RecordingCapacity(p, released),
                                                       notifier=MemoryNotifier())))
            for m in cancel_environments(8)]  # fmt: skip

    def one(env: tuple[Any, Any]) -> tuple[int, dict[str, Any]]:
        module, deps = env
        path = f"/bookings/{b.booking_id}/cancel"
        ev = rest_event("/bookings/{booking_id}/cancel", path, None, {"booking_id": b.booking_id})
        ev["httpMethod"] = "POST"
        ev["requestContext"]["authorizer"] = replace(ME, user_id=user).to_context()
        res = module.lambda_handler(ev, Ctx(), deps=deps)
        return int(res["statusCode"]), json.loads(res["body"])

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, envs))
    assert {s for s, _ in results} <= {200, 409} and 200 in {s for s, _ in results}
    assert len(payments.refunds) == 1 and payments.net_charged() == 1_000
    final = store.get(user, b.booking_id)
    assert final is not None and final.status == BookingStatus.CANCELLED and final.refund_id is not None
    assert final.reason_detail == {"cancel": "done"} and set(released) == {("runpod", "i-9")}


def test_get_on_its_default_wiring_opens_the_sealed_connection_of_the_owners_confirmed_booking(
    endpoint: Endpoint,
) -> None:
    from gpubroker.wiring.bookings import booking_store
    from tests.integration.conftest import fresh_handler

    writer = booking_store(endpoint.names["BookingsTable"], endpoint.names["BookingSecretsKey"])  # as confirm does
    user = f"u-{uuid.uuid4().hex[:8]}"
    b = booking(user, "get")
    assert writer.create(b)
    assert writer.save(b.with_status(BookingStatus.CONFIRMED, T0, connection={"host": "198.51.100.4", "port": 22}))
    module = fresh_handler("api_get_booking")  # default wiring: BOOKING_KEY_ID from the template

    def get(who: str) -> tuple[int, dict[str, Any]]:
        from tests.events import rest_event

        ev = rest_event("/bookings/{booking_id}", f"/bookings/{b.booking_id}", None, {"booking_id": b.booking_id})
        ev["requestContext"]["authorizer"] = replace(ME, user_id=who).to_context()
        res = module.lambda_handler(ev, Ctx())
        return int(res["statusCode"]), json.loads(res["body"])

    status, body = get(user)
    assert status == 200 and body["connection"] == {"host": "198.51.100.4", "port": 22}
    assert get("someone-else")[0] == 404


def test_the_wired_notifier_posts_through_the_management_api_and_drops_a_gone_connection(
    endpoint: Endpoint, own_connections: Callable[..., None]
) -> None:
    """``wiring.bookings.booking_notifier`` as the cancel route builds it: the real ``ApiGatewayConnectionPoster``,
    its client stubbed (moto's management API never raises GoneException): one post delivered, one 410 -> the
    connection deleted, the anonymous connection never posted to."""
    import boto3
    from botocore.stub import ANY, Stubber

    from gpubroker.wiring.bookings import booking_notifier

    table = endpoint.names["ConnectionsTable"]
    run = uuid.uuid4().hex[:8]
    user = f"carol-{run}"
    own_connections(f"live-{run}", at=T0, user_id=user)
    own_connections(f"gone-{run}", at=T0, user_id=user)
    own_connections(f"anon-{run}", at=T0, user_id=None)
    notifier = booking_notifier(table, "https://ws.example.test/dev")
    api = boto3.session.Session().client("apigatewaymanagementapi", endpoint_url="https://ws.example.test/dev",
                                         region_name="us-east-1")  # fmt: skip
    notifier.poster._client = api  # type: ignore[attr-defined]
    with Stubber(api) as stub:
        stub.add_client_error("post_to_connection", "GoneException", http_status_code=410,
                              expected_params={"ConnectionId": f"gone-{run}", "Data": ANY})  # fmt: skip
        stub.add_response("post_to_connection", {}, {"ConnectionId": f"live-{run}", "Data": ANY})
        assert notifier.notify(booking(user, "push")) == 1
        stub.assert_no_pending_responses()
    left = client("dynamodb").get_item(TableName=table, Key={"connection_id": {"S": f"gone-{run}"}})
    assert "Item" not in left
    assert "Item" in client("dynamodb").get_item(TableName=table, Key={"connection_id": {"S": f"live-{run}"}})
