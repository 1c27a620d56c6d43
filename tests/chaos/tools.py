"""What ``make chaos`` breaks with, besides the stack's own fault rules (``/_local/faults``) and the local Stripe
server's: a redis-server of its own (killed and restarted; never the machine's), a DynamoDB front that throttles
(the functions' ``AWS_ENDPOINT_URL_DYNAMODB``: every other request goes through to moto unchanged), and a provider
API that answers 5xx, garbage or nothing, as the chaos asks."""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from redis import Redis

from infra.local.stack import free_port


def _wait_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.02)


class OwnRedis:
    """A redis-server on a free loopback port, with an append-only file synced on every write (what it held before
    a kill is there after the restart), that the chaos kills (SIGKILL) and restarts on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="gpubroker-chaos-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("make chaos needs redis-server (Debian: apt-get install -y redis-server)")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port)
        deadline = time.monotonic() + 10
        while True:  # answering commands, the append-only file loaded
            try:
                if self.client().ping():
                    return
            except Exception:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def kill(self) -> None:
        """Down at once, as a crashed server or a lost network: SIGKILL, no goodbye."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def client(self) -> Redis:
        return Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1, decode_responses=True)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


THROTTLE_BODY = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "The level of configured provisioned throughput for the table was exceeded.",
    }
).encode()


class DynamoThrottle:
    """A DynamoDB endpoint in front of moto that answers ``ProvisionedThroughputExceededException`` (HTTP 400, the
    body DynamoDB sends) while a throttle is on: for the next ``n`` requests or until a time, optionally only for
    some operations (``X-Amz-Target``); every other request is passed to moto as it came."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._lock = threading.Lock()
        self._remaining = 0
        self._until = 0.0
        self._ops: frozenset[str] | None = None
        self.throttled = 0
        self.passed = 0
        outer = self
        local = threading.local()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                op = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
                if outer._take(op):
                    self._reply(400, [("Content-Type", "application/x-amz-json-1.0")], THROTTLE_BODY)
                    return
                conn = getattr(local, "conn", None)
                if conn is None:
                    conn = local.conn = http.client.HTTPConnection("127.0.0.1", outer.upstream_port, timeout=60)
                try:
                    conn.request("POST", self.path, body, dict(self.headers.items()))
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException):
                    local.conn = None
                    conn.close()
                    raise
                skip = {"transfer-encoding", "connection", "content-length"}
                self._reply(resp.status, [(k, v) for k, v in resp.getheaders() if k.lower() not in skip], data)

            def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 128
        threading.Thread(target=self.server.serve_forever, name="ddb-throttle", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _take(self, op: str) -> bool:
        with self._lock:
            if self._ops is not None and op not in self._ops:
                self.passed += 1
                return False
            if self._remaining > 0 or time.monotonic() < self._until:
                self._remaining = max(0, self._remaining - 1)
                self.throttled += 1
                return True
            self.passed += 1
            return False

    def throttle(self, *, n: int = 0, for_s: float = 0.0, ops: frozenset[str] | None = None) -> None:
        with self._lock:
            self._remaining, self._until, self._ops = n, time.monotonic() + for_s, ops
            self.throttled = 0

    def clear(self) -> None:
        self.throttle()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def lambda_catalog(price_cents: int = 249) -> dict[str, Any]:
    """A Lambda Cloud ``/api/v1/instance-types`` answer: two GPU types with capacity in two regions."""

    def kind(name: str, gpu: str, gpus: int, cents: int) -> dict[str, Any]:
        spec = {
            "name": name,
            "description": name,
            "gpu_description": gpu,
            "price_cents_per_hour": cents,
            "specs": {"vcpus": 26 * gpus, "memory_gib": 225 * gpus, "storage_gib": 2750, "gpus": gpus},
        }
        regions = [{"name": "us-east-1", "description": "Virginia"}, {"name": "us-west-1", "description": "California"}]
        return {"instance_type": spec, "regions_with_capacity_available": regions}

    return {
        "data": {
            "gpu_1x_h100_sxm5": kind("gpu_1x_h100_sxm5", "H100 (80 GB SXM5)", 1, price_cents),
            "gpu_8x_a100_80gb_sxm4": kind("gpu_8x_a100_80gb_sxm4", "A100 (80 GB SXM4)", 8, 8 * 179),
        }
    }


class FakeProvider:
    """A provider API on 127.0.0.1 (Lambda Cloud's shape): the next ``faults`` requests each get one of ``500``
    (a 5xx), ``garbage`` (200 with a body that is not JSON) or ``hang`` (no answer for ``hang_s``); then the
    catalog. Counts the requests."""

    def __init__(self, hang_s: float = 25.0) -> None:
        self.faults: list[str] = []
        self.always: str | None = None  # every request, until cleared
        self.hang_s = hang_s
        self.requests = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fault = outer._next()
                if fault == "hang":
                    outer._stop.wait(outer.hang_s)
                    self.close_connection = True
                    return
                status, body = (
                    (500, b'{"error": "internal"}')
                    if fault == "500"
                    else (
                        (200, b"<html><body>502 Bad Gateway</body></html>")
                        if fault == "garbage"
                        else (200, json.dumps(lambda_catalog()).encode())
                    )
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="fake-provider", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _next(self) -> str | None:
        with self._lock:
            self.requests += 1
            if self.faults:
                return self.faults.pop(0)
            return self.always

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
