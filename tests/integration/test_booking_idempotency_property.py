"""Issue 12 §3, property "booking idempotency": random interleavings of duplicate, concurrent and distinct
``POST /bookings`` -> bookings = saga starts = charges = the distinct (user, key) that were accepted.

The real handler (``functions/api_create_booking``) with its real Powertools Idempotency persistence on the moto
``IdempotencyTable`` and the real ``DynamoBookingStore`` on ``BookingsTable``. Hypothesis draws 1-2 users and up to
12 requests ``(user, key, body)`` from small pools (3 keys; 2 offers x 2 hours), in rounds: a round's requests are
sent at once (one thread and one handler-module copy each: Powertools' resolver keeps the current request on the
module-level app, as one Lambda environment serves one request), rounds one after the other. The saga starter
charges through ``MemoryPayments`` with the saga's deterministic key ``step_key(booking_id, "charge")``, so the
charge count is what the real saga's idempotency key guarantees; it also counts its starts.

25 examples by default (about 5 s); ``BOOKING_PROPERTY_EXAMPLES=500`` for a soak run.

Each example gets fresh key values (a uuid prefix), so no example replays another's idempotency records."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gpubroker.adapters.booking_store import DynamoBookingStore
from gpubroker.adapters.dynamodb import DynamoOfferRepository
from gpubroker.domain.bookings import booking_id_for, step_key
from gpubroker.domain.money import Money
from gpubroker.services.bookings import CreateDeps
from gpubroker.wiring import edge
from gpubroker.wiring.bookings import BookingCreateApiDeps, idempotency_store
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED, FixedClock
from tests.fakes_booking_routes import ME, offer
from tests.fakes_bookings import MemoryPayments
from tests.integration.conftest import Endpoint

RUN = uuid.uuid4().hex[:8]
OFFERS = (f"prop-a-{RUN}", f"prop-b-{RUN}")
BODIES = tuple({"offer_id": o, "hours": h} for o in OFFERS for h in (2, 3))
KEYS = 3  # keys per example, shared by its users
ROUND_MAX = 4  # requests sent at once
ENVS = ROUND_MAX
EXAMPLES = int(os.environ.get("BOOKING_PROPERTY_EXAMPLES", "25"))  # more for a soak run
ACCEPTED_CODES = {422: "idempotency_key_reused", 409: "idempotency_in_progress"}

Request = tuple[int, int, int]  # (user index, key index, body index)
Answer = tuple[int, dict[str, Any]]


class SagaStarter:
    """The saga, as far as money goes: each start charges once with the saga's own key ``booking:{id}:charge``
    (Stripe replays a key's first answer), so a duplicated start cannot charge twice; starts are counted."""

    def __init__(self, store: DynamoBookingStore) -> None:
        self.store = store
        self.payments = MemoryPayments()
        self.starts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def start(self, booking_id: str, user_id: str, correlation_id: str | None = None) -> str:
        with self._lock:
            self.starts[booking_id] += 1
        booking = self.store.get(user_id, booking_id)
        assert booking is not None, "the saga started before its booking was written"
        self.payments.charge(customer_id=f"cus-{user_id}", payment_method="pm_card_visa",
                             amount=Money(100 * booking.hours, "usd"), idempotency_key=step_key(booking_id, "charge"),
                             metadata={"booking_id": booking_id, "user_id": user_id})  # fmt: skip
        return f"arn:aws:states:us-east-1:123456789012:execution:booking:{booking_id}"


def environments(n: int) -> list[Any]:
    """``n`` copies of the handler module, each with its own resolver (one request at a time per copy)."""
    path = Path(__file__).parents[2] / "functions" / "api_create_booking" / "handler.py"
    copies = []
    for i in range(n):
        spec = importlib.util.spec_from_file_location(f"create_booking_prop_env_{i}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        copies.append(module)
    return copies


def post(module: Any, deps: BookingCreateApiDeps, user: str, key: str, body: dict[str, Any]) -> Answer:
    ev = rest_event("/bookings", "/bookings")
    ev["httpMethod"] = "POST"
    ev["body"] = json.dumps(body)
    ev["headers"] = {"Content-Type": "application/json", "Idempotency-Key": key}
    ev["multiValueHeaders"] = {k: [v] for k, v in ev["headers"].items()}
    ev["requestContext"]["authorizer"] = replace(ME, user_id=user).to_context()
    res = module.lambda_handler(ev, Ctx(), deps=deps)
    return int(res["statusCode"]), json.loads(res["body"])


@dataclass(repr=False)
class World:
    endpoint: Endpoint
    store: DynamoBookingStore
    offers: DynamoOfferRepository
    modules: list[Any]

    def __repr__(self) -> str:
        return "World()"

    def deps(self, saga: SagaStarter) -> list[BookingCreateApiDeps]:
        """One deps per handler copy (a persistence layer holds its request's state), all on one saga."""
        create = CreateDeps(store=self.store, clock=FixedClock(), offers=self.offers, saga=saga)
        table = self.endpoint.names["IdempotencyTable"]
        return [BookingCreateApiDeps(front_door=UNLIMITED, audit=edge.audit_trail(), create=create,
                                     idempotency=idempotency_store(table)) for _ in self.modules]  # fmt: skip


@pytest.fixture(scope="module")
def world(endpoint: Endpoint) -> World:
    offers = DynamoOfferRepository(endpoint.names["OffersTable"])
    offers.put_many([offer(o, provider="sandbox") for o in OFFERS])  # not a provider other tests ingest
    return World(endpoint, DynamoBookingStore(endpoint.names["BookingsTable"]), offers, environments(ENVS))


def send_round(
    world: World, deps: list[BookingCreateApiDeps], calls: list[tuple[str, str, dict[str, Any]]]
) -> list[Answer]:
    """The round's requests at once: one thread and one handler copy each, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def one(i: int) -> Answer:
        user, key, body = calls[i]
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=5)
        return post(world.modules[i], deps[i], user, key, body)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, range(len(calls))))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, list[list[Request]]]:
    users = draw(st.integers(1, 2))
    request = st.tuples(st.integers(0, users - 1), st.integers(0, KEYS - 1), st.integers(0, len(BODIES) - 1))
    rounds = draw(st.lists(st.lists(request, min_size=1, max_size=ROUND_MAX), min_size=1, max_size=3))
    return users, rounds


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_booking_idempotency_bookings_equal_saga_starts_equal_charges_equal_accepted_keys(
    world: World, scenario: tuple[int, list[list[Request]]]
) -> None:
    n_users, rounds = scenario
    run = uuid.uuid4().hex[:10]
    users = [f"u{u}-{run}" for u in range(n_users)]
    keys = [f"{run}-k{k}" for k in range(KEYS)]
    saga = SagaStarter(world.store)
    deps = world.deps(saga)
    # (user, key) -> [(round, body index, answer)]
    seen: dict[tuple[str, str], list[tuple[int, int, Answer]]] = {}
    for r, requests in enumerate(rounds):
        calls = [(users[u], keys[k], BODIES[b]) for u, k, b in requests]
        for (u, k, b), answer in zip(requests, send_round(world, deps, calls), strict=True):
            seen.setdefault((users[u], keys[k]), []).append((r, b, answer))

    event("answers: " + ", ".join(sorted({str(a[0]) for answers in seen.values() for _, _, a in answers})))
    accepted: dict[tuple[str, str], dict[str, Any]] = {}
    for (user, key), answers in seen.items():
        for _, _, (status, out) in answers:
            assert status in (202, *ACCEPTED_CODES), (status, out)
            if status != 202:
                assert out["error"]["code"] == ACCEPTED_CODES[status], (status, out)
        oks = [out for _, _, (status, out) in answers if status == 202]
        assert oks, f"{user}/{key}: no request was accepted: {answers}"  # the first writer always answers 202
        assert all(out == oks[0] for out in oks), f"{user}/{key}: different 202 answers: {oks}"
        first = oks[0]
        assert first["booking_id"] == booking_id_for(user, key) and first["status_url"].endswith(first["booking_id"])
        body = {"offer_id": first["booking"]["offer_id"], "hours": first["booking"]["hours"]}
        assert body in BODIES
        won = BODIES.index(body)
        first_round = min(r for r, _, _ in answers)
        for r, b, (status, _) in answers:
            if b != won:
                assert status == 422, f"{user}/{key}: another body answered {status}, not 422"
            elif r > first_round:
                assert status == 202, f"{user}/{key}: a later same-body retry answered {status}, not the replay"
            else:
                assert status in (202, 409)  # a concurrent duplicate of the first request
        accepted[(user, key)] = first

    # what was written, for every (user, key) of the example's pools (requested or not)
    written = {(u, k) for u in users for k in keys if world.store.get(u, booking_id_for(u, k)) is not None}
    assert written == set(accepted), f"bookings written {sorted(written)} != accepted {sorted(accepted)}"
    for (user, key), first in accepted.items():
        stored = world.store.get(user, booking_id_for(user, key))
        assert stored is not None
        assert (stored.offer_id, stored.hours) == (first["booking"]["offer_id"], first["booking"]["hours"])
    ids = {booking_id_for(u, k) for u, k in accepted}
    assert set(saga.starts) == ids  # every accepted booking's saga started (a replay may start it again: by name)
    charged = [pi.metadata["booking_id"] for pi in saga.payments.intents.values()]
    assert sorted(charged) == sorted(ids), "one charge per accepted booking, none for a refused request"
    assert len(written) == len(accepted) == len(set(saga.starts)) == len(saga.payments.intents)


def test_the_same_key_and_body_replays_the_answer_and_another_body_is_a_422_with_one_booking(world: World) -> None:
    saga = SagaStarter(world.store)
    deps = world.deps(saga)
    module, d = world.modules[0], deps[0]
    user, key = f"u-{uuid.uuid4().hex[:8]}", f"k-{uuid.uuid4().hex}"
    first = post(module, d, user, key, BODIES[0])
    assert first[0] == 202 and first[1]["booking_id"] == booking_id_for(user, key)
    assert post(module, d, user, key, BODIES[0]) == first
    assert post(world.modules[1], deps[1], user, key, BODIES[0]) == first  # another environment: the same record
    status, out = post(module, d, user, key, BODIES[1])
    assert status == 422 and out["error"]["code"] == "idempotency_key_reused"
    assert post(module, d, user, key, {**BODIES[0], "hours": 5})[1]["error"]["code"] == "idempotency_key_reused"
    assert post(module, d, user, key, BODIES[0]) == first  # the refused body did not replace the record
    page, _ = world.store.list(user, limit=10)
    assert [b.booking_id for b in page] == [first[1]["booking_id"]]
    assert (page[0].offer_id, page[0].hours) == (BODIES[0]["offer_id"], BODIES[0]["hours"])
    assert len(saga.payments.intents) == 1 and set(saga.starts) == {first[1]["booking_id"]}
    # the same key of another user is another booking
    other = f"v-{uuid.uuid4().hex[:8]}"
    theirs = post(module, d, other, key, BODIES[1])
    assert theirs[0] == 202 and theirs[1]["booking_id"] == booking_id_for(other, key) != first[1]["booking_id"]
    assert len(saga.payments.intents) == 2
