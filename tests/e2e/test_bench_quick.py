"""The quick forms of the benchmarks that start or use a local stack (tests/bench/test_quick.py runs the others):
bench_local_stack and bench_full_ingest start their own (unseeded) stacks; bench_ws_latency uses the e2e stack
and puts back the prices it changed; bench_bookings uses the e2e stack too (a fresh user of its own, its faults
cleared after each saga); bench_assistant_stack times the assistant's rules on the e2e stack (fresh users of its
own, its anonymous requests from an address of its own) and starts an unseeded stack of its own whose model hangs;
bench_web loads every page of the web app once cold and once warm on the e2e stack (anonymous, read only) beside a
static peer page it puts in web/dist for the run."""

from __future__ import annotations

import os

import pytest

from tests.bench.test_quick import check_quick_run, run_quick
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]


@pytest.mark.parametrize("name", ["bench_local_stack.py", "bench_full_ingest.py"])
def test_quick_form_starts_its_stack_and_runs(name: str) -> None:
    check_quick_run(run_quick(name))


def test_quick_ws_latency_on_the_e2e_stack(stack: Stack) -> None:
    if os.environ.get("GPUBROKER_API_URL"):
        pytest.skip("needs the local stack's invoke API")
    summary = check_quick_run(run_quick("bench_ws_latency.py", "--state-file", str(stack.state_file)))
    assert summary["messages"] and summary["clients_with_wrong_messages"] == 0, summary


def test_quick_bookings_on_the_e2e_stack(stack: Stack) -> None:
    if not stack.auth:
        pytest.skip("needs the local stack (its faults, sandbox and Stripe server)")
    summary = check_quick_run(run_quick("bench_bookings.py", "--state-file", str(stack.state_file)))
    ended = summary["fig1_sagas_ended"]
    assert not summary["wrong"] and isinstance(ended, dict) and set(ended) == {"confirmed"}, summary


def test_quick_assistant_on_the_e2e_stack_and_a_hanging_model(stack: Stack) -> None:
    if not stack.auth:
        pytest.skip("needs the local stack (signs users up in its AuthTable)")
    summary = check_quick_run(run_quick("bench_assistant_stack.py", "--state-file", str(stack.state_file)))
    figures = summary["figures"]
    assert isinstance(figures, dict), summary
    rows = ("parse, anonymous", "parse, signed in", "chat, anonymous", "chat, signed in",
            "peer: POST /math/map-workload-to-gpu", "parse, signed in, model hangs")  # fmt: skip
    assert all(figures[row]["n"] > 0 for row in rows), summary
    # the real breaker: the model's timeouts first, then the rules engine at once (every answer a 200)
    breaker = summary["real_breaker"]
    assert isinstance(breaker, list), summary
    sequence = [step.split(":")[0] for step in breaker]
    assert sequence[0] == "timeout" and set(sequence) <= {"timeout", "breaker_open"}, summary


def test_quick_web_on_the_e2e_stack(stack: Stack) -> None:
    if os.environ.get("GPUBROKER_API_URL"):
        pytest.skip("needs the local stack serving this checkout's web/dist")
    summary = check_quick_run(run_quick("bench_web.py", "--state-file", str(stack.state_file)))
    figures = summary["figures"]
    assert isinstance(figures, dict) and len(figures) == 8, summary  # the peer and the seven pages
    assert all(f["n"] == 1 and f["fcp_p50_ms"] > 0 for f in figures.values()), summary
    initial, dashboard = summary["initial_js_kb"], summary["dashboard_route_js_kb"]
    assert isinstance(initial, float) and isinstance(dashboard, float) and 0 < initial <= dashboard, summary
