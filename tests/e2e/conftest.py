"""The local stack as a real process on free loopback ports, seeded from ../shared/data/catalogs.

Set ``GPUBROKER_API_URL`` to run these tests against a stack that is already running (or a deployed stage), and
``GPUBROKER_WS_URL`` for its WebSocket API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.local.stack import free_port
from infra.local.template import ROOT


@dataclass
class Stack:
    url: str
    state_file: Path
    ready_s: float
    ws_url: str | None = None


def _get(url: str, timeout: float = 10) -> tuple[int, dict]:  # type: ignore[type-arg]
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    given = os.environ.get("GPUBROKER_API_URL")
    if given:
        ws = os.environ.get("GPUBROKER_WS_URL")
        yield Stack(url=given.rstrip("/"), state_file=ROOT / ".local/stack.json", ready_s=0.0, ws_url=ws)
        return
    port, ws_port = free_port(), free_port()
    state = tmp_path_factory.mktemp("stack") / "stack.json"
    log = (tmp_path_factory.getbasetemp() / "stack.log").open("w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infra.local",
            "--port",
            str(port),
            "--ws-port",
            str(ws_port),
            "--state-file",
            str(state),
        ],
        cwd=ROOT,
        env={**env, "POWERTOOLS_LOG_LEVEL": "WARNING"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        while not state.exists():
            if proc.poll() is not None or time.monotonic() - started > 60:
                raise RuntimeError(f"local stack did not start; see {log.name}")
            time.sleep(0.1)
        ready_s = time.monotonic() - started
        ws_url = json.loads(state.read_text()).get("ws")
        yield Stack(url=f"http://127.0.0.1:{port}", state_file=state, ready_s=ready_s, ws_url=ws_url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
