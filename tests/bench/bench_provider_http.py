"""A provider's pages over HTTPS: the adapters' pooled client (one keep-alive TLS connection per run) against the
peer, stdlib ``urllib.request`` opening a connection per page (what the adapters did before).

A local HTTPS server on 127.0.0.1 (a self-signed P-256 certificate made here, trusted by both clients) serves a
paginated answer in GCP's Cloud Billing shape; the real ``GcpBillingSource`` reads every page through
``HttpClient``, and the peer fetches the same pages with ``urllib.request.urlopen``. Reported: connections the
server accepted, time per page (median of the runs). Targets: the pooled client opens 1 connection per run and is
not slower than the peer. Loopback has no network round trip, so the gain shown is the TLS handshake's CPU only;
over the internet each connection saved is also 1-2 round trips.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import ssl
import statistics
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
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from tests.bench.common import add_quick, verdict  # noqa: E402


def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_file, key_file


def page(k: int, pages: int, skus: int) -> bytes:
    items = [{"skuId": f"S-{k}-{i}", "description": f"Nvidia L4 GPU running in Belgium {k}-{i}",
              "serviceRegions": ["europe-west1"],
              "pricingInfo": [{"pricingExpression": {"usageUnit": "h", "tieredRates": [
                  {"unitPrice": {"units": "0", "nanos": 560000000 + i}}]}}]} for i in range(skus)]  # fmt: skip
    body: dict[str, Any] = {"skus": items}
    if k + 1 < pages:
        body["nextPageToken"] = f"p{k + 1}"
    return json.dumps(body).encode()


class Server:
    def __init__(self, cert: Path, key: Path, pages: int, skus: int) -> None:
        self.connections = 0
        self.bodies = [page(k, pages, skus) for k in range(pages)]
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body are two writes: with Nagle on, a kept-alive connection waits for the client's
            # delayed ACK (40 ms) before the body; real APIs answer in one write or with TCP_NODELAY, as here
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                k = int(query.get("pageToken", "p0")[1:])
                body = outer.bodies[k]
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Counting(ThreadingHTTPServer):
            daemon_threads = True

            def process_request(self, request: Any, client_address: Any) -> None:
                outer.connections += 1
                super().process_request(request, client_address)

        self.httpd = Counting(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"


def ours(server: Server, ctx: ssl.SSLContext) -> int:
    from gpubroker.adapters.providers.gcp import GcpBillingSource
    from gpubroker.adapters.providers.http import HttpClient
    from gpubroker.adapters.secrets import StaticCredentials

    source = GcpBillingSource(credentials=StaticCredentials(api_key="k"), base_url=server.url,
                              http=HttpClient(ssl_context=ctx))  # fmt: skip
    return sum(1 for _ in source.pages())


def peer(server: Server, ctx: ssl.SSLContext) -> int:
    """The same pages, one ``urlopen`` (one connection) each."""
    n, token = 0, ""
    while True:
        query = urllib.parse.urlencode({"key": "k", "pageSize": "5000", **({"pageToken": token} if token else {})})
        url = f"{server.url}/v1/services/6F81-5844-456A/skus?{query}"
        with urllib.request.urlopen(url, timeout=20, context=ctx) as resp:
            body = json.loads(resp.read())
        n += 1
        token = body.get("nextPageToken") or ""
        if not token:
            return n


def main(argv: list[str] | None = None) -> int:
    args = add_quick(argparse.ArgumentParser(description=__doc__.split("\n\n")[0])).parse_args(argv)
    pages, skus, runs = (3, 10, 1) if args.quick else (40, 200, 7)
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = self_signed(Path(tmp))
        server = Server(cert, key, pages, skus)
        ctx = ssl.create_default_context(cafile=str(cert))
        figures: dict[str, dict[str, float]] = {}
        for name, fn in (("pooled (HttpClient)", ours), ("urllib per page (peer)", peer)):
            times, conns = [], []
            fn(server, ctx)  # warm-up, unmeasured (imports, the first handshake's key material)
            for _ in range(runs):
                before = server.connections
                t0 = time.perf_counter()
                got = fn(server, ctx)
                times.append(time.perf_counter() - t0)
                conns.append(server.connections - before)
                assert got == pages, f"{name}: {got} pages of {pages}"
            ms = statistics.median(times) * 1000 / pages
            figures[name] = {"ms_per_page": round(ms, 3), "connections_per_run": max(conns)}
            print(f"{name:24s} {ms:8.3f} ms/page   {max(conns):3d} connections per run of {pages} pages")
        server.httpd.shutdown()
    mine, theirs = figures["pooled (HttpClient)"], figures["urllib per page (peer)"]
    ratio = theirs["ms_per_page"] / mine["ms_per_page"] if mine["ms_per_page"] else float("inf")
    print(f"peer / pooled time per page: {ratio:.2f}x")
    met = mine["connections_per_run"] == 1 and ratio >= 1.0
    print(json.dumps({"quick": args.quick, "pages": pages, "figures": figures, "ratio": round(ratio, 2),
                      "met": met}))  # fmt: skip
    return verdict(met, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
