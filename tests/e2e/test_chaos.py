"""A cheap subset of ``make chaos`` (tests/chaos/experiments.py) on the e2e tier's stack, so `make test` keeps the
experiments honest: a transient Stripe outage on the charge, a Lambda killed after the charge (the compensations
refund and release), and a WebSocket subscriber gone (410) while a price change is broadcast. The rest need tools
of their own (a Redis to kill, the DynamoDB throttle, a fake provider and model): `make chaos` runs them all."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chaos.experiments import Lab, run, table
from tests.conftest import CATALOGS
from tests.e2e.conftest import Stack
from tests.e2e.test_bookings import World

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

CHEAP = ("stripe-5xx-transient", "lambda-killed-charge", "websocket-gone-410")


@pytest.fixture(scope="module")
def lab(stack: Stack) -> Iterator[Lab]:
    if not stack.auth:
        pytest.skip("needs the local stack (its faults, sandbox, Stripe server and WebSocket front)")
    lab = Lab(World.of(stack), CATALOGS)
    _ = lab.booker  # the saved card, before any fault is set
    yield lab
    lab.clear()


@pytest.mark.parametrize("name", CHEAP)
def test_the_chaos_experiment_holds(lab: Lab, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    (outcome,) = run(lab, [name])
    with capsys.disabled():
        print("\n" + table([outcome]))
    assert outcome.ok and not outcome.skipped, outcome.problems
