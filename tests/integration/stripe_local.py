"""The local Stripe server (infra/local/stripe_server.py) for the integration tests: its own process on a free
loopback port, and a webhook receiver (a thread) that records what it posts."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from infra.local.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk_test_gpubroker_local"
RECEIVER_SECRET = "whsec_gpubroker_tests"


@dataclass
class Received:
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self, type_: str | None = None) -> list[tuple[dict[str, Any], dict[str, str], bytes]]:
        with self.lock:
            out = [(json.loads(body), headers, body) for headers, body in self.posts]
        return [e for e in out if type_ is None or e[0]["type"] == type_]

    def wait_for(
        self, type_: str, timeout_s: float = 5.0, n: int = 1
    ) -> list[tuple[dict[str, Any], dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.events(type_)
            if len(got) >= n:
                return got
            time.sleep(0.02)
        raise AssertionError(f"no {type_} delivered within {timeout_s}s: {[e[0]['type'] for e in self.events()]}")


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with received.lock:
                received.posts.append(({k: v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/billing/webhook", received
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def stripe_server(*args: str) -> Iterator[str]:
    """``python -m infra.local.stripe_server`` on a free port; its base URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "infra.local.stripe_server", "--port", str(port), "--quiet",
                                *args], cwd=ROOT)  # fmt: skip
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the local Stripe server did not start") from None
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


def fault(base: str, **spec: Any) -> None:
    assert requests.post(f"{base}/_local/faults", json=spec, timeout=5).status_code == 201


def clear_faults(base: str) -> None:
    requests.delete(f"{base}/_local/faults", timeout=5).raise_for_status()
