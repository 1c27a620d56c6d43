"""Every benchmark in its quick form (``--quick``: tiny sizes, no peer libraries, no timing targets), each in its
own process as `make bench` runs it, so that `make test` catches a broken benchmark (`make bench` runs them in
full). The benchmarks that start or use a local stack run their quick forms in the e2e tier
(tests/e2e/test_bench_quick.py). Also the shared helper's loud checks (tests/bench/common.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.common import UNLIMITED, BadAnswer, InProcess, assert_2xx
from tests.events import rest_event

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BENCHES = sorted(p.name for p in HERE.glob("bench_*.py"))
# the e2e tier's
WITH_A_STACK = (
    "bench_assistant_stack.py",
    "bench_bookings.py",
    "bench_full_ingest.py",
    "bench_local_stack.py",
    "bench_web.py",
    "bench_ws_latency.py",
)


def run_quick(name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """``python tests/bench/<name> --quick``, from the repository root, without the test run's AWS endpoints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    return subprocess.run([sys.executable, str(HERE / name), "--quick", *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip


def check_quick_run(out: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert out.returncode == 0, f"exit {out.returncode}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    summary = next(json.loads(line) for line in reversed(out.stdout.splitlines()) if line.startswith("{"))
    assert summary["quick"] is True, summary
    return dict(summary)


@pytest.mark.parametrize("name", [b for b in BENCHES if b not in WITH_A_STACK])
def test_quick_form_runs(name: str) -> None:
    check_quick_run(run_quick(name))


def test_every_benchmark_has_a_quick_form() -> None:
    assert set(WITH_A_STACK) <= set(BENCHES) and len(BENCHES) >= 11
    for name in BENCHES:
        source = (HERE / name).read_text()
        assert "add_quick(" in source and "verdict" in source, f"{name} has no --quick form (tests/bench/common.py)"


def test_a_non_2xx_answer_stops_a_benchmark() -> None:
    assert_2xx(200, "", "ok")
    assert_2xx(204, None, "no content")
    with pytest.raises(BadAnswer, match="HTTP 429"):
        assert_2xx(429, {"error": {"code": "rate_limited"}}, "GET /offers")
    from gpubroker.api.deps import ApiDeps

    call = InProcess("functions.api_health.handler", ApiDeps(front_door=UNLIMITED))
    assert json.loads(call(rest_event("/health", "/health"))["body"])["status"] == "ok"
    with pytest.raises(BadAnswer, match="HTTP 400"):  # an unknown parameter: a 400 stops the run
        call(rest_event("/health", "/health", {"nope": ["1"]}))


def test_in_process_benchmarks_run_with_the_unlimited_front_door() -> None:
    from gpubroker.adapters.ratelimit import MemoryRateLimiter
    from gpubroker.api.deps import ApiDeps, FrontDoor

    limited = ApiDeps(front_door=FrontDoor(limiter=MemoryRateLimiter()))
    with pytest.raises(BadAnswer, match="unlimited front door"):
        InProcess("functions.api_health.handler", limited)
