"""API Gateway in process, for the fuzz tests (tests/integration/test_fuzz_*.py): a request goes where the local
stack's HTTP front would send it - the template's routes, the REST authorizer through the gateway's own rules
(``infra.local.gateway.Gate``), the proxy event ``infra.local.http_front.proxy_event`` builds - and on to the real
handler on its default wiring (moto), with no socket in between. A handler that raises is API Gateway's 502.

``wsgi_app`` puts the same gateway behind WSGI, so schemathesis drives it in process (``from_wsgi``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from infra.local.gateway import Gate
from infra.local.http_front import proxy_event
from infra.local.runtime import FunctionError, Runtime
from infra.local.template import App


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


def _error(status: int, code: str, message: str) -> Answer:
    return Answer(status, json.dumps({"error": {"code": code, "message": message}}).encode())


class Gateway:
    def __init__(self, app: App, runtime: Runtime | None = None, stage: str = "fuzz") -> None:
        self.app = app
        self.runtime = runtime or Runtime(app, isolated=False)  # in this process: the tests patch its wiring
        self.gate = Gate(app, self.runtime)
        self.stage = stage

    def request(
        self, method: str, target: str, headers: Mapping[str, str] | None = None, body: bytes = b"",
        ip: str = "198.51.100.23",
    ) -> Answer:  # fmt: skip
        """``target``: the path and query as they arrive on the wire (percent-encoded)."""
        path = urlsplit(target).path
        matching = [r for r in self.app.routes if r.regex.match(path)]
        route = next((r for r in matching if r.method == method), None)
        if route is None:
            return _error(405, "method_not_allowed", method) if matching else _error(404, "route_not_found", path)
        hdrs = {k.lower(): v for k, v in (headers or {}).items()}
        event = proxy_event(route, method, target, hdrs, body, ip, self.stage)
        refused = self.gate.enter(route, event)
        if refused is not None:
            return Answer(refused.status, refused.body.encode(), dict(refused.headers))
        try:
            result = self.runtime.invoke(route.function, event)
        except FunctionError as exc:  # Lambda's Unhandled: API Gateway answers 502
            return _error(502, "internal_error", f"{route.function}: {exc.error_type}: {exc.error_message}")
        out: dict[str, str] = dict(result.get("headers") or {})
        for k, values in (result.get("multiValueHeaders") or {}).items():
            out[k] = ", ".join(str(v) for v in values)
        raw = result.get("body") or ""
        if result.get("isBase64Encoded"):
            import base64

            data = base64.b64decode(raw)
        else:
            data = str(raw).encode("utf-8", "surrogatepass")
        return Answer(int(result.get("statusCode", 200)), data, out)


def wsgi_app(gateway: Gateway, openapi: dict[str, Any]) -> Callable[..., Iterable[bytes]]:
    """The gateway as a WSGI application (and ``GET /openapi.json``, as the local stack serves it)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = str(environ["REQUEST_METHOD"])
        target = str(environ.get("REQUEST_URI") or environ.get("RAW_URI") or environ.get("PATH_INFO") or "/")
        if "?" not in target and environ.get("QUERY_STRING"):
            target += "?" + str(environ["QUERY_STRING"])
        headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = str(environ["CONTENT_TYPE"])
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if urlsplit(target).path == "/openapi.json" and method == "GET":
            answer = Answer(200, json.dumps(openapi).encode(), {"Content-Type": "application/json"})
        else:
            answer = gateway.request(method, target, headers, body)
        hdrs = {"Content-Type": "application/json", **answer.headers}
        start_response(f"{answer.status} X", [(k, v) for k, v in hdrs.items() if k.lower() != "content-length"])
        return [answer.body]

    return app


def error_code(answer: Answer) -> str | None:
    """The machine-readable code of an error answer (``{"error": {"code": ...}}``), else None."""
    try:
        data = answer.json()
    except ValueError:
        return None
    code = data.get("error", {}).get("code") if isinstance(data, dict) and isinstance(data.get("error"), dict) else None
    return code if isinstance(code, str) and code else None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def assert_handled(answer: Answer, what: str) -> None:
    """The fuzz tests' property: never a 5xx; every 4xx names a machine-readable code; a JSON answer is strict JSON
    (no ``NaN``/``Infinity``, which ``json.dumps`` writes and no other parser reads)."""
    body = answer.body[:600].decode("utf-8", "replace")
    assert answer.status < 500, f"{what} -> {answer.status} {body}"
    if answer.body and "json" in {k.lower(): v for k, v in answer.headers.items()}.get("content-type", "json"):
        try:
            json.loads(answer.body, parse_constant=_no_constant)
        except ValueError as exc:
            raise AssertionError(f"{what} -> {answer.status}, not strict JSON ({exc}): {body}") from None
    if 400 <= answer.status < 500:
        assert error_code(answer) is not None, f"{what} -> {answer.status} without a code: {body}"
