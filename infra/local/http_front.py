"""The HTTP front of the local stack: requests -> API Gateway REST proxy events -> the real handler.

Routes come from template.yaml (``GET /openapi.json`` too: a function, as in AWS). Besides them it serves the Lambda
Invoke API (``POST /2015-03-31/functions/<name>/invocations``), which ``make ingest`` uses, and the WebSocket API's
``@connections`` management API (``[/<stage>]/@connections/<id>``: POST delivers the body to that socket, DELETE
closes it, GET describes it; an unknown id is 410 GoneException), which the handlers reach through the
environment variable that holds the stage's management endpoint in AWS. Those two answer only requests signed
(SigV4) with the run's credentials, and never one a browser sent (infra/local/sigv4.py).

The Invoke API takes a function's name, or its ARN (full or partial, as the state machines' tasks send it, see
infra/local/moto_server.py). ``/_local/faults`` (GET lists, POST adds, DELETE removes the fault rules of
infra/local/faults.py) is the stack's own, guarded like the Invoke API; ``GET /_local/metrics`` (what the
functions would publish to CloudWatch, infra/local/metrics.py) is read-only and open.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from infra.local.faults import PATH as FAULTS_PATH
from infra.local.faults import InvalidFault
from infra.local.gateway import Gate
from infra.local.metrics import ENV as METRICS_ENV
from infra.local.metrics import PATH as METRICS_PATH
from infra.local.metrics import as_text, summarize
from infra.local.runtime import FunctionError, Runtime, Throttled
from infra.local.sigv4 import LocalCredentials, refusal
from infra.local.template import Route, function_name
from infra.local.web_front import WebApp

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}  # on every answer, as API Gateway's (template.yaml)

_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
_CONNECTIONS = re.compile(r"^(?:/[^/@]+)?/@connections/(?P<id>[^/]+)$")


class RouteCount:
    """How many requests have reached a route's function (thread-safe): the stack's readiness asks whether any did
    while it was seeding (a search function may then hold a manifest read before the last publication)."""

    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self._n += 1

    @property
    def value(self) -> int:
        return self._n


class Connections(Protocol):
    def post(self, connection_id: str, data: bytes) -> bool: ...

    def close(self, connection_id: str) -> bool: ...

    def info(self, connection_id: str) -> dict[str, Any] | None: ...


def proxy_event(
    route: Route, method: str, raw_path: str, headers: dict[str, str], body: bytes, ip: str, stage: str
) -> dict[str, Any]:
    url = urlsplit(raw_path)
    match = route.regex.match(url.path)
    assert match is not None
    multi = parse_qs(url.query, keep_blank_values=True)
    try:
        text, b64 = (body.decode("utf-8"), False) if body else (None, False)
    except UnicodeDecodeError:  # what API Gateway does with bytes that are not text: base64 and say so
        text, b64 = base64.b64encode(body).decode(), True
    return {
        "resource": route.path,
        "path": unquote(url.path),
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": {k: unquote(v) for k, v in match.groupdict().items()} or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/{stage}{url.path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": ip, "userAgent": headers.get("user-agent")},
            "apiId": "local",
        },
        "body": text,
        "isBase64Encoded": b64,
    }


def make_server(
    host: str,
    port: int,
    runtime: Runtime,
    stage: str = "local",
    connections: Connections | None = None,
    routed: RouteCount | None = None,
    credentials: LocalCredentials | None = None,
    web: WebApp | None = None,
) -> ThreadingHTTPServer:
    """``credentials``: what the Invoke and ``@connections`` APIs accept (SigV4); None makes a key nobody knows.
    ``web``: the web app under ``/app/`` (infra/local/web_front.py)."""
    routes = runtime.app.routes
    creds = credentials or LocalCredentials.generate()
    gate = Gate(runtime.app, runtime)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "gpubroker-local"
        # headers and body go out as two writes: without TCP_NODELAY a keep-alive client (boto3) waits ~40 ms
        # for the delayed ACK on every request
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            hdrs = {"Content-Type": "application/json", **SECURITY_HEADERS, **(headers or {})}
            for k, v in hdrs.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, code: str, message: str) -> None:
            self._send(status, json.dumps({"error": {"code": code, "message": message}}).encode())

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """What http.server answers itself (a request line over 64 KiB: 414; too many or too long headers: 431;
            a malformed request line: 400) in the API's error shape, with nosniff, instead of an HTML page."""
            self.close_connection = True
            names = {414: "uri_too_long", 431: "headers_too_large"}
            self._error(code, names.get(code, "bad_request"), message or "the request could not be read")

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _dispatch(self) -> None:
            body = self._body()
            path = urlsplit(self.path).path
            invoke = _INVOKE.match(path)
            if invoke and self.command == "POST":
                if not self._refused("lambda", body):
                    self._invoke(function_name(unquote(invoke.group("name"))), body)
                return
            if path == FAULTS_PATH:
                if not self._refused("lambda", body):
                    self._faults(body)
                return
            if path == METRICS_PATH and self.command == "GET":
                self._metrics()
                return
            if web is not None and web.owns(path):
                page = web.answer(self.command, path)
                self._send(page.status, page.body, page.headers)
                return
            managed = _CONNECTIONS.match(path)
            if managed and connections is not None:
                if not self._refused("execute-api", body):
                    self._manage(connections, unquote(managed.group("id")), body)
                return
            matching = [r for r in routes if r.regex.match(path)]
            route = next((r for r in matching if r.method == self.command), None)
            if route is None:
                if matching:
                    allow = ", ".join(sorted({r.method for r in matching}))
                    err = {
                        "error": {
                            "code": "method_not_allowed",
                            "message": f"{self.command} is not allowed on {path}",
                        }
                    }
                    self._send(405, json.dumps(err).encode(), {"Allow": allow})
                else:
                    self._error(404, "route_not_found", f"no route {path}")
                return
            if routed is not None:
                routed.add()
            headers = {k.lower(): v for k, v in self.headers.items()}
            event = proxy_event(route, self.command, self.path, headers, body, self.client_address[0], stage)
            refused = gate.enter(route, event)
            if refused is not None:
                self._send(refused.status, refused.body.encode(), refused.headers)
                return
            try:
                result = runtime.invoke(route.function, event)
            except Throttled:  # Lambda refused the invocation: API Gateway answers 500 (a function error is 502)
                self._error(500, "internal_error", "the function is at its reserved concurrency (throttled)")
                return
            except FunctionError:
                self._error(502, "internal_error", "the function failed (see the stack's log)")
                return
            self._reply(result)

        def _refused(self, service: str, body: bytes) -> bool:
            """Answer 403 (AWS's error code) unless the request is signed with the run's credentials for ``service``
            and no browser sent it."""
            headers = {k.lower(): v for k, v in self.headers.items()}
            refused = refusal(creds, service, self.command, self.path, headers, body)
            if refused is None:
                return False
            self._send(refused.status, refused.body(), {"x-amzn-ErrorType": refused.code})
            return True

        def _reply(self, result: dict[str, Any]) -> None:
            headers: dict[str, str] = dict(result.get("headers") or {})
            for k, values in (result.get("multiValueHeaders") or {}).items():
                headers[k] = ", ".join(str(v) for v in values)
            raw = result.get("body") or ""
            data = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
            self._send(int(result.get("statusCode", 200)), data, headers)

        def _manage(self, conns: Connections, connection_id: str, body: bytes) -> None:
            gone = {"x-amzn-ErrorType": "GoneException"}
            if self.command == "POST":
                ok = conns.post(connection_id, body)
            elif self.command == "DELETE":
                ok = conns.close(connection_id)
            elif self.command == "GET":
                info = conns.info(connection_id)
                if info is not None:
                    self._send(200, json.dumps(info).encode())
                    return
                ok = False
            else:
                self._send(405, json.dumps({"message": "Method not allowed"}).encode(), {"Allow": "DELETE, GET, POST"})
                return
            if ok:
                self._send(200 if self.command == "POST" else 204, b"")
            else:
                self._send(410, json.dumps({"message": f"{connection_id} is gone"}).encode(), gone)

        def _metrics(self) -> None:
            """What the functions would have published (infra/local/metrics.py): read-only, so unsigned."""
            query = parse_qs(urlsplit(self.path).query)
            source = os.environ.get(METRICS_ENV, "")
            name, dimension = query.get("name", [""])[-1] or None, query.get("dimension", [""])[-1] or None
            rows = summarize(Path(source), name=name, dimension=dimension) if source else []
            if (query.get("format") or [""])[-1] == "text":
                self._send(200, as_text(rows).encode(), {"Content-Type": "text/plain; charset=utf-8"})
            else:
                self._send(200, json.dumps({"source": source, "series": rows}).encode())

        def _faults(self, body: bytes) -> None:
            faults = runtime.faults
            if self.command == "GET":
                self._send(200, json.dumps({"faults": faults.list()}).encode())
            elif self.command == "DELETE":
                only = parse_qs(urlsplit(self.path).query).get("function")
                self._send(200, json.dumps({"removed": faults.clear(only[-1] if only else None)}).encode())
            elif self.command == "POST":
                try:
                    rule = faults.add(json.loads(body or b"null"))
                except json.JSONDecodeError:
                    self._error(400, "InvalidRequestContentException", "the body is not JSON")
                    return
                except InvalidFault as exc:
                    self._error(400, "InvalidParameterValueException", str(exc))
                    return
                self._send(201, json.dumps(rule.describe()).encode())
            else:
                self._send(405, json.dumps({"message": "Method not allowed"}).encode(), {"Allow": "DELETE, GET, POST"})

        def _invoke(self, name: str, body: bytes) -> None:
            try:
                event = json.loads(body or b"{}")
                result = runtime.invoke(name, event)
            except KeyError:
                self._error(404, "ResourceNotFoundException", f"no function {name}")
                return
            except json.JSONDecodeError:
                self._error(400, "InvalidRequestContentException", "payload is not JSON")
                return
            except Throttled as exc:  # what Lambda's Invoke API answers beyond reserved concurrency
                throttled = {"Reason": exc.reason, "Type": "User", "message": exc.error_message}
                self._send(429, json.dumps(throttled).encode(),
                           {"x-amzn-ErrorType": "TooManyRequestsException", "Retry-After": "1"})  # fmt: skip
                return
            except FunctionError as exc:
                payload = {"errorType": exc.error_type, "errorMessage": exc.error_message}
                self._send(200, json.dumps(payload).encode(), {"X-Amz-Function-Error": "Unhandled"})
                return
            self._send(200, json.dumps(result).encode())

        def __getattr__(self, name: str) -> Any:
            # every HTTP method (GET, TRACE, QUERY, ...) is dispatched: unrouted ones get a 405 with Allow
            if name.startswith("do_"):
                return self._dispatch
            raise AttributeError(name)

    server = _Server((host, port), Handler)
    server.daemon_threads = True
    return server


class _Server(ThreadingHTTPServer):
    # the listen backlog: socketserver's default of 5 reset 4-5 of 20 connections opened at once (API Gateway takes
    # a burst); tests/e2e/test_identity.py sends 20 refreshes at once
    request_queue_size = 128
