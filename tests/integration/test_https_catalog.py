"""The catalog source over real HTTPS (a local TLS server with a throwaway certificate)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gpubroker.adapters.skypilot_catalog import SkyPilotCatalogSource
from gpubroker.domain.errors import SourceError
from gpubroker.domain.offers import RawOffer
from tests.conftest import CATALOGS


def _cert(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, ssl.SSLContext]]:
    body = (CATALOGS / "lambda" / "vms.csv").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path != "/catalogs/v8/lambda/vms.csv":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    cert, key = _cert(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = ssl.create_default_context(cafile=str(cert))
    yield f"https://127.0.0.1:{server.server_address[1]}", client
    server.shutdown()


def test_reads_the_published_catalog_over_https(https_server: tuple[str, ssl.SSLContext]) -> None:
    base, ctx = https_server
    rows = list(SkyPilotCatalogSource("lambda", f"{base}/catalogs/v8/lambda/vms.csv", ssl_context=ctx).rows())
    assert len(rows) == 357 and sum(isinstance(r, RawOffer) for r in rows) == 357


def test_http_errors_and_untrusted_certs_are_source_errors(https_server: tuple[str, ssl.SSLContext]) -> None:
    base, ctx = https_server
    with pytest.raises(SourceError):
        list(SkyPilotCatalogSource("lambda", f"{base}/missing.csv", ssl_context=ctx).rows())
    with pytest.raises(SourceError):  # the system trust store does not know our throwaway CA
        list(SkyPilotCatalogSource("lambda", f"{base}/catalogs/v8/lambda/vms.csv").rows())
