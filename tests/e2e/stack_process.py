"""The local stack (``python -m infra.local``) as a real process on free loopback ports: one way to start it, used
by the e2e ``stack`` fixture and by tests/bench/bench_local_stack.py, so the benchmark times what the tests run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from infra.local.stack import free_port
from infra.local.template import ROOT

START_TIMEOUT_S = 120.0
"""How long to wait for the state file before giving up: a guard against a hung start, not a speed target (the
ready time is tests/bench/bench_local_stack.py's figure)."""


@dataclass(frozen=True)
class Started:
    url: str
    ws_url: str | None
    state_file: Path
    ready_s: float  # process start to state file written (what `make dev` prints as "ready in")
    log: Path


@contextmanager
def local_stack(workdir: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Started]:
    """Start the stack with its state file and log in ``workdir``; yield once the state file exists (the stack is
    ready); stop it on exit. ``args`` go to ``python -m infra.local`` (e.g. ``--no-seed``), ``env`` over this
    process's environment."""
    port, ws_port = free_port(), free_port()
    state, log_path = workdir / "stack.json", workdir / "stack.log"
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    with log_path.open("w") as log:
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "infra.local", "--port", str(port), "--ws-port", str(ws_port),
             "--state-file", str(state), *args],
            cwd=ROOT,
            env={**base, "POWERTOOLS_LOG_LEVEL": "WARNING", **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: what it started goes with it (see the finally)
        )  # fmt: skip
        try:
            while not state.exists():
                if proc.poll() is not None or time.monotonic() - started > START_TIMEOUT_S:
                    raise RuntimeError(f"local stack did not start; see {log_path}")
                time.sleep(0.1)
            ready_s = time.monotonic() - started
            ws_url = json.loads(state.read_text()).get("ws")
            yield Started(f"http://127.0.0.1:{port}", ws_url, state, ready_s, log_path)
        finally:
            proc.terminate()  # a started stack stops its servers (moto, Stripe, the fronts) itself
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
            # a stack stopped while starting (or killed) leaves its moto and Stripe servers behind: the group's rest
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
