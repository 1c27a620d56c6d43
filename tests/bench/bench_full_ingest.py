"""Benchmark: a full ingestion run on the local stack over every bundled catalog and every recorded provider
response. Target: <= 10 s for the whole run.

Starts the local stack (no seed) as its own process, serves the recorded provider answers
(tests/fixtures/providers) from a replay server on 127.0.0.1, stores fake API keys in the stack's secret, then
invokes the real ingestion function through the stack's Lambda Invoke API: 7 SkyPilot catalogs and 8 live-API
providers (RunPod GraphQL, Vast, Lambda, Shadeform, Verda, AWS Price List, GCP billing SKUs, Azure retail prices),
one after the other (the function has reserved concurrency 1). Prints a table and a JSON line; exit 0 if met.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT, ROOT / "layers" / "core", ROOT / "layers" / "math"):
    sys.path.insert(0, str(_p))

import boto3  # noqa: E402

from infra.local.sigv4 import LocalCredentials, sign  # noqa: E402
from infra.local.stack import free_port  # noqa: E402
from tests.bench.common import BadAnswer, add_quick, verdict  # noqa: E402
from tests.fixtures.providers.wire import Replay  # noqa: E402

CATALOGS = ROOT.parent / "shared" / "data" / "catalogs"
API_PROVIDERS = ("runpod", "vast", "lambda", "shadeform", "verda", "aws", "gcp", "azure")
TARGET_S = 10.0


def replay_server() -> tuple[ThreadingHTTPServer, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    replay = Replay(url)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query))
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, payload = replay.answer(self.command, parts.path, query, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, url


def invoke(state: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The ingestion function's report; an HTTP error, a function error or a failed run stops the benchmark."""
    url, body = f"{state['api']}/2015-03-31/functions/IngestOffersFunction/invocations", json.dumps(event).encode()
    creds = LocalCredentials.from_state(state)
    headers = sign(creds, "lambda", "POST", url, body, {"Content-Type": "application/json"})
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            out: dict[str, Any] = json.loads(resp.read())
            if resp.headers.get("X-Amz-Function-Error"):
                raise BadAnswer(f"ingestion of {event['provider']} raised: {out}")
    except urllib.error.HTTPError as err:
        raise BadAnswer(f"invoke ingestion of {event['provider']}: HTTP {err.code}: {err.read()[:500]!r}") from None
    if out.get("status") != "ok":
        raise BadAnswer(f"ingestion of {event['provider']} reported {out.get('status')}: {out.get('error')}")
    return out


def main(argv: list[str] | None = None) -> int:
    quick = add_quick(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args(argv).quick
    state = Path(tempfile.mkdtemp()) / "stack.json"
    env = {**os.environ, "POWERTOOLS_LOG_LEVEL": "ERROR"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infra.local",
            "--no-seed",
            "--port",
            str(free_port()),
            "--ws-port",
            str(free_port()),
            "--state-file",
            str(state),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server, replay_url = replay_server()
    try:
        deadline = time.monotonic() + 60
        while not state.exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                print("the local stack did not start")
                return 1
            time.sleep(0.1)
        info = json.loads(state.read_text())
        keys = {"api_key": "bench-key", "client_id": "bench", "client_secret": "bench"}
        sm = boto3.client(
            "secretsmanager",
            endpoint_url=info["aws_endpoint"],
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        sm.put_secret_value(
            SecretId=info["names"]["ProviderSecrets"], SecretString=json.dumps({p: keys for p in API_PROVIDERS})
        )
        events = [{"provider": c.parent.name, "catalog": str(c)} for c in sorted(CATALOGS.glob("*/vms.csv"))]
        events += [{"provider": p, "source": "api", "base_url": replay_url} for p in API_PROVIDERS]
        if quick:  # one catalog and one live API
            events = [events[0], next(e for e in events if "source" in e)]
        rows = []
        started = time.perf_counter()
        for event in events:
            t = time.perf_counter()
            report = invoke(info, event)
            rows.append(
                (
                    event["provider"],
                    "api" if "source" in event else "catalog",
                    report.get("status"),
                    report.get("accepted"),
                    time.perf_counter() - t,
                )
            )
        total = time.perf_counter() - started
    finally:
        server.shutdown()
        proc.terminate()
        proc.wait(timeout=15)
    print(f"{'provider':<12}{'source':<9}{'status':<8}{'accepted':>9}{'seconds':>9}")
    for provider, kind, status, accepted, seconds in rows:
        print(f"{provider:<12}{kind:<9}{status!s:<8}{accepted!s:>9}{seconds:>9.2f}")
    ok = total <= TARGET_S and all(r[2] == "ok" for r in rows)
    print(
        f"full run: {len(rows)} sources, {sum(r[3] or 0 for r in rows)} offers in {total:.2f} s "
        f"(target <= {TARGET_S} s): {'PASS' if ok else 'FAIL'}"
    )
    print(json.dumps({"bench": "full_ingest", "sources": len(rows), "seconds": round(total, 3), "quick": quick,
                      "pass": ok}))  # fmt: skip
    return verdict(ok, quick=quick)


if __name__ == "__main__":
    sys.exit(main())
