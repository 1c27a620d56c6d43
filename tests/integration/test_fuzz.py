"""Fuzzing every REST route and every WebSocket action, in process: no input gives a 5xx (or kills a socket), and
every 4xx names a machine-readable code.

- schemathesis, driven by the app's own OpenAPI document (what ``GET /openapi.json`` serves), positive and negative
  cases for every operation;
- our own Hypothesis generators over every route: nesting depth, body size, huge and odd numbers (4,300+ digits,
  ``1e999``, ``-0``, ``NaN``), control characters and invalid UTF-8 in bodies, paths, query strings, headers and
  cursors;
- every WebSocket route over a real local socket (the local stack's WebSocket front): odd frames to ``subscribe``,
  ``ping`` and ``$default``, odd query strings and headers to ``$connect``.

Requests go through API Gateway in process (tests/integration/fuzz_gateway.py): the template's routes, the real
authorizer on protected routes (a signed-in enterprise admin's token, signed by the stack's own keys), the real
handlers on their default wiring against moto, the real token check of the front door (with an unlimited rate).

``GPUBROKER_FUZZ_EXAMPLES`` (default 6) sets the examples per route and generator; a deep run:
``GPUBROKER_FUZZ_EXAMPLES=200 .venv/bin/pytest tests/integration/test_fuzz.py`` (above 20 examples the
run is no longer derandomised: each deep run explores anew)."""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from infra.local.template import read_app
from tests.conftest import CATALOGS
from tests.integration.conftest import Endpoint
from tests.integration.fuzz_gateway import Answer, Gateway, assert_handled, wsgi_app

pytestmark = [pytest.mark.integration, pytest.mark.fuzz, pytest.mark.xdist_group("fuzz")]

EXAMPLES = int(os.environ.get("GPUBROKER_FUZZ_EXAMPLES", "6"))
ROUTES = sorted({f"{r.method} {r.path}" for r in read_app().routes})
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=EXAMPLES <= 20,  # the default run is the same every time; a deep run explores
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
PASSWORD = "correct horse battery staple"


# ---------------------------------------------------------------------------------------------- the world fuzzed
@dataclass
class World:
    gateway: Gateway
    session: dict[str, str]  # Authorization + Cookie of a signed-in enterprise admin
    openapi: dict[str, Any]
    offer_id: str


def _cheap_passwords() -> None:
    """argon2id at a cheaper cost (the same code), as the auth integration tests run it."""
    from gpubroker.adapters.passwords import Argon2Hasher
    from gpubroker.wiring import auth

    auth.auth_service_deps().hasher = Argon2Hasher(time_cost=1, memory_kib=8192, parallelism=1)


@pytest.fixture(autouse=True)
def _front_door_with_token_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real front door's token check on public routes (what a fuzzed Authorization header reaches), at an
    unlimited rate; cheap password hashing."""
    from gpubroker.api.deps import FrontDoor
    from gpubroker.wiring import edge
    from tests.fakes import Unlimited

    monkeypatch.setattr(edge, "front_door", lambda: FrontDoor(limiter=Unlimited(), identity=edge.public_identity_deps))
    _cheap_passwords()


def _sign_in(gateway: Gateway, endpoint: Endpoint) -> dict[str, str]:
    email = f"fuzz-{uuid.uuid4().hex[:10]}@example.com"
    body = json.dumps({"email": email, "password": PASSWORD}).encode()
    json_type = {"Content-Type": "application/json"}
    assert gateway.request("POST", "/auth/register", json_type, body).status == 202
    boto3.client("dynamodb", endpoint_url=endpoint.url).update_item(
        TableName=endpoint.names["AuthTable"],
        Key={"pk": {"S": f"USER#{email}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET #p = :p, #r = :r",
        ExpressionAttributeNames={"#p": "plan", "#r": "roles"},
        ExpressionAttributeValues={":p": {"S": "enterprise"}, ":r": {"SS": ["admin", "user"]}},
    )
    answer = gateway.request("POST", "/auth/login", json_type, body)
    assert answer.status == 200, answer.body
    fingerprint = answer.headers["Set-Cookie"].split(";")[0]
    return {"Authorization": f"Bearer {answer.json()['access_token']}", "Cookie": fingerprint}


@pytest.fixture(scope="module")
def world(endpoint: Endpoint) -> Iterator[World]:
    from gpubroker.api.deps import FrontDoor
    from gpubroker.wiring import edge
    from infra.local.http_front import make_server
    from infra.local.sigv4 import LocalCredentials
    from infra.local.stack import free_port
    from infra.openapi import build_document
    from tests.conftest import clear_wiring_caches
    from tests.fakes import Unlimited

    mp = pytest.MonkeyPatch()
    clear_wiring_caches()
    mp.setattr(edge, "front_door", lambda: FrontDoor(limiter=Unlimited(), identity=edge.public_identity_deps))
    _cheap_passwords()
    gateway = Gateway(endpoint.app)
    # the Lambda Invoke API (DELETE /providers/{name} runs the ingestion function), served as the local stack does
    # (it takes only requests signed with the run's key, as in AWS: the handlers' boto3 clients sign with it)
    creds = LocalCredentials.generate()
    for name, value in creds.environment().items():
        mp.setenv(name, value)
    mp.delenv("AWS_SESSION_TOKEN", raising=False)
    invoke_api = make_server("127.0.0.1", free_port(), gateway.runtime, credentials=creds)
    threading.Thread(target=invoke_api.serve_forever, daemon=True).start()
    mp.setenv("AWS_ENDPOINT_URL_LAMBDA", f"http://127.0.0.1:{invoke_api.server_address[1]}")
    for provider in ("paperspace", "fluidstack"):  # offers to search, page and subscribe to (the smallest catalogs)
        report = gateway.runtime.invoke(
            "IngestOffersFunction", {"provider": provider, "catalog": str(CATALOGS / provider / "vms.csv")}
        )
        assert report["status"] != "failed", report
    session = _sign_in(gateway, endpoint)
    page = gateway.request("GET", "/offers?limit=1", session)
    assert page.status == 200 and page.json()["items"], page.body
    try:
        yield World(gateway, session, build_document(endpoint.app), page.json()["items"][0]["offer_id"])
    finally:
        invoke_api.shutdown()
        invoke_api.server_close()
        mp.undo()


# --------------------------------------------------------------------------------------------- schemathesis
@pytest.fixture(scope="module")
def schema(world: World) -> Any:
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    # an explicit config: the project's schemathesis.toml is the e2e run's (its auth reads that run's session)
    return schemathesis.openapi.from_wsgi(
        "/openapi.json", wsgi_app(world.gateway, world.openapi), config=SchemathesisConfig()
    )


def _operation(schema: Any, route: str) -> Any:
    method, path = route.split(" ", 1)
    return schema[path][method.upper()]


@pytest.mark.parametrize("route", ROUTES)
def test_schemathesis_cases_never_give_a_5xx_and_every_4xx_has_a_code(route: str, schema: Any, world: World) -> None:
    from hypothesis.errors import Unsatisfiable
    from schemathesis.generation.modes import GenerationMode

    operation = _operation(schema, route)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @FUZZ
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            response = case.call(headers=world.session)
            answer = Answer(response.status_code, response.content, dict(response.headers))
            assert_handled(
                answer,
                f"{mode.value} {case.method} {case.formatted_path} query={case.query!r} "
                f"headers={case.headers!r} body={case.body!r}"[:2000],
            )

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid (no parameters, no body): the positive run covered it
            assert mode is GenerationMode.NEGATIVE


# ------------------------------------------------------------------------------------------ our own generators
ODD_NUMBERS = [
    "1" * 4301,
    "-" + "9" * 5000,
    "1" * 1001,
    "1" * 999,
    "1e999",
    "-1e999",
    "1E+400",
    "-0",
    "-0.0",
    "0." + "0" * 2000 + "1",
    "4.9e-325",
    "NaN",
    "Infinity",
    "-Infinity",
    "1_000",
    "0x10",
    "+1",
    ".5",
    "123456789012345678901234567890",
    "9007199254740993",
    "-9223372036854775809",
]
ODD_TEXT = [
    "",
    " ",
    "\x00",
    "\x1b[31m",
    "\r\n",
    "\u202e",
    "\ufeff",
    "\ud800",
    "\udfff",
    "../../etc/passwd",
    "%00",
    "%FF",
    "%C3%28",
    "'",
    '"',
    "\\",
    "{}",
    "[]",
    "null",
    "true",
    "١٢٣",
    "ａ",
    "A" * 5000,
    "🎉" * 300,
    *ODD_NUMBERS,
]
odd_text = st.sampled_from(ODD_TEXT) | st.text(max_size=30) | st.text(st.characters(codec=None), max_size=30)
odd_number = st.sampled_from(ODD_NUMBERS)


def _json_text(value: str) -> str:
    """A JSON string literal of ``value``, lone surrogates kept as escapes (what a hostile client can send)."""
    return json.dumps(value, ensure_ascii=True)


leaf = (
    odd_number
    | odd_text.map(_json_text)
    | st.sampled_from(["true", "false", "null", "0", "1.5", '"x"', '"\x00"', '"\x1f"'])  # raw controls in strings
    | st.integers().map(str)
    | st.floats(allow_nan=False).map(repr).filter(lambda s: "inf" not in s)
)


def _wrap(depth: int, inner: str, brackets: str) -> str:
    opened = "".join(("[" if b == "[" else '{"k":') for b in brackets[:depth])
    closed = "".join(("]" if b == "[" else "}") for b in reversed(brackets[:depth]))
    return opened + inner + closed


deep = st.builds(_wrap, st.integers(0, 1200), leaf, st.text("[{", min_size=1200, max_size=1200))


def json_body(fields: list[str]) -> st.SearchStrategy[bytes]:
    """A body: a JSON object of the route's own field names (so odd values reach real fields) and others, each an
    odd leaf or a deep nest; or a deep nest alone; or garbage bytes / invalid UTF-8."""
    names = st.sampled_from(fields) if fields else st.just("x")
    member = st.tuples(names | odd_text, leaf | deep)
    obj = st.lists(member, max_size=6).map(lambda ms: "{" + ",".join(f"{_json_text(k)}:{v}" for k, v in ms) + "}")
    text = obj | deep | leaf | st.just('{"a":' * 40 + "1" + "}" * 40)
    utf8 = text.map(lambda t: t.encode("utf-8", "surrogatepass"))
    broken = st.tuples(utf8, st.binary(min_size=1, max_size=8), st.integers(0, 50)).map(
        lambda p: p[0][: p[2]] + b"\xff\xfe\xc3(" + p[1] + p[0][p[2] :]
    )
    return utf8 | broken | st.binary(max_size=200) | st.sampled_from([b"", b"{", b"\x00", b'{"a":1}' * 3])


def _cursor(payload: str) -> str:
    return base64.urlsafe_b64encode(payload.encode("utf-8", "surrogatepass")).decode().rstrip("=")


cursor = (
    st.tuples(odd_text, odd_number, odd_text).map(
        lambda t: _cursor(f'{{"v":{_json_text(t[0])},"r":{t[1]},"h":{_json_text(t[2])}}}')
    )
    | st.tuples(odd_number, odd_number).map(lambda t: _cursor(f'{{"s":{t[0]},"a":{t[1]}}}'))
    | odd_text.map(_cursor)
    | st.integers(0, 380).map(lambda d: _cursor("[" * d + "]" * d))
    | odd_text
)


def _enc(value: str) -> str:
    """Percent-encoded as a client would send it; sometimes with a raw invalid UTF-8 escape."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


def _params(world: World, method: str, path: str) -> tuple[list[str], list[str]]:
    """The route's declared query parameter names and body field names (from the OpenAPI document)."""
    op = world.openapi["paths"][path][method.lower()]
    query = [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
    ref = (op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})).get("$ref", "")
    model = world.openapi.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], {})
    return query, list(model.get("properties", {}))


def requests_for(world: World, method: str, path: str) -> st.SearchStrategy[Request]:
    query_names, fields = _params(world, method, path)
    names = (st.sampled_from(query_names) if query_names else st.nothing()) | odd_text | st.just("cursor")
    value = odd_text | odd_number | cursor
    query = st.lists(st.tuples(names, value), max_size=5).map(
        lambda kv: "&".join(f"{_enc(k)}={_enc(v)}" for k, v in kv)
    )
    raw_escape = st.sampled_from(["%FF", "%C3%28", "%00", "%ED%A0%80", "%", "%zz"])
    segment = odd_text.map(_enc).filter(bool) | raw_escape | st.just(world.offer_id)
    header_value = (odd_text | cursor).map(lambda v: v.encode("utf-8", "surrogatepass").decode("latin-1"))
    auth = st.sampled_from(["", "Bearer", "Bearer ", "Basic Zm9vOmJhcg==", "Bearer a.b.c", "Bearer \x00"]) | (
        header_value.map(lambda v: f"Bearer {v}")
    )
    headers = st.fixed_dictionaries(
        {},
        optional={
            "Authorization": auth,
            "Cookie": header_value.map(lambda v: f"__Host-gpb_fgp={v}") | header_value,
            "Content-Type": st.sampled_from(
                [
                    "application/json",
                    "text/plain",
                    "application/x+json; charset=latin-1",
                    "",
                    "multipart/form-data; boundary=x",
                ]
            )
            | header_value,
            "X-Forwarded-For": header_value,
            "Idempotency-Key": header_value,
            "Accept": header_value,
        },
    )
    signed_in = st.booleans()

    def build(segments: list[str], q: str, hdrs: dict[str, str], body: bytes, session: bool) -> Request:
        parts = iter(segments)
        filled = "/".join(next(parts, "x") if p.startswith("{") else p for p in path.split("/"))
        all_headers = {**(world.session if session else {}), **hdrs}
        return Request(method, filled + (f"?{q}" if q else ""), all_headers, body if method != "GET" else b"")

    return st.builds(build, st.lists(segment, min_size=3, max_size=3), query, headers, json_body(fields), signed_in)


def hostile_requests(world: World, method: str, path: str) -> list[Request]:
    """The known-hostile inputs, tried on every route every run (Hypothesis' explicit examples): the generators
    add variety around them."""
    query_names, fields = _params(world, method, path)
    field = fields[0] if fields else "x"
    name = query_names[0] if query_names else "q"
    filled = "/".join(world.offer_id if p.startswith("{") else p for p in path.split("/"))
    odd_segment = "/".join("%ED%A0%80%00%FF" if p.startswith("{") else p for p in path.split("/"))
    json_type = {**world.session, "Content-Type": "application/json"}
    bodies = [
        "[" * 1000 + "]" * 1000,
        f'{{"{field}": ' + "[" * 1000 + "]" * 1000 + "}",
        f'{{"{field}": ' + '{"a":' * 1000 + "1" + "}" * 1001,
        f'{{"{field}": ' + "1" * 4301 + "}",
        f'{{"{field}": -' + "9" * 999 + "}",
        f'{{"{field}": 1e999}}',
        f'{{"{field}": -0}}',
        f'{{"{field}": NaN, "y": Infinity, "z": -Infinity}}',
        f'{{"{field}": "\\u0000\\ud800\\u001b"}}',  # JSON escapes: NUL, a lone surrogate, ESC
        f'{{"{field}": "\x00\x1f"}}',
    ]
    out = [Request(method, filled, json_type, b.encode()) for b in bodies]
    out += [
        Request(method, filled, json_type, b'{"' + field.encode() + b'": "\xff\xfe\xc3("}'),
        Request(method, filled, json_type, b"\xff\xfe\x00{"),
        Request(method, odd_segment, world.session, b""),
        Request(method, filled + "?" + "&".join(f"{_enc(name)}={_enc(v)}" for v in ("1" * 4301,)), world.session, b""),
        Request(method, filled + f"?{_enc(name)}=1e999&cursor=" + _cursor("[" * 380 + "]" * 380), world.session, b""),
        Request(
            method, filled + "?cursor=" + _cursor('{"v":"\\u0000","r":' + "9" * 5000 + ',"h":"x"}'), world.session, b""
        ),
        Request(method, filled + f"?{_enc(name)}=%00%FF%ED%A0%80", world.session, b""),
        Request(method, filled, {"Authorization": "Bearer \x00\ud800", "Cookie": "__Host-gpb_fgp=\x00"}, b""),
        Request(method, filled, {"Authorization": "Bearer " + "A" * 10_000 + ".e30.x"}, b""),
    ]
    return [r if method != "GET" else Request(r.method, r.target, r.headers, b"") for r in out]


@pytest.mark.parametrize("route", ROUTES)
def test_odd_requests_never_give_a_5xx_and_every_4xx_has_a_code(route: str, world: World) -> None:
    method, path = route.split(" ", 1)

    def run(request: Request) -> None:
        answer = world.gateway.request(request.method, request.target, request.headers, request.body)
        assert_handled(answer, f"{request!r}"[:3000])

    for hostile in hostile_requests(world, method, path):
        run(hostile)
    FUZZ(given(request=requests_for(world, method, path))(run))()


@pytest.mark.parametrize("route", [r for r in ROUTES if r.startswith(("POST", "PUT", "PATCH", "DELETE"))])
def test_bodies_at_and_past_the_size_bound_are_a_413_or_handled(route: str, world: World) -> None:
    from gpubroker.api.body_guard import MAX_BODY_BYTES

    method, path = route.split(" ", 1)
    target = path.replace("{", "").replace("}", "")
    for body in (b'{"x":"' + b"a" * (MAX_BODY_BYTES - 8) + b'"}', b'{"x":"' + b"a" * MAX_BODY_BYTES + b'"}'):
        answer = world.gateway.request(method, target, {**world.session, "Content-Type": "application/json"}, body)
        assert_handled(answer, f"{route} with {len(body)} bytes")
    assert answer.status == 413 and answer.json()["error"]["code"] == "body_too_large"


# ------------------------------------------------------------------------------------------------ WebSocket
@pytest.fixture(scope="module")
def ws_url(world: World) -> Iterator[str]:
    """The local stack's WebSocket front on the template's routes; the handlers post to its ``@connections``."""
    from infra.local.sigv4 import LocalCredentials
    from infra.local.stack import free_port
    from infra.local.ws_front import WebSocketFront, selection_expression

    routes = world.gateway.app.ws_routes
    expression = selection_expression(world.gateway.app.template, routes[0].api)
    # its @connections API takes the run's key, which the world's handlers sign with (set in their environment)
    creds = LocalCredentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    front = WebSocketFront(
        "127.0.0.1", free_port(), world.gateway.runtime, routes, stage="fuzz", selection_expression=expression,
        credentials=creds,
    )  # fmt: skip
    front.start()
    mp = pytest.MonkeyPatch()
    mp.setenv("WEBSOCKET_ENDPOINT", f"{front.management_url}/fuzz")
    try:
        yield front.url
    finally:
        mp.undo()
        front.stop()


def _routes_to_ping(frame: str) -> bool:
    """Whether the frame is a ping within the message bounds (then a pong answers it, not an error)."""
    from gpubroker.api.ws_frames import check_message
    from gpubroker.domain.errors import DomainError

    try:
        check_message(frame)
        value = json.loads(frame)
    except (DomainError, ValueError):
        return False
    return isinstance(value, dict) and value.get("action") == "ping"


SUBSCRIBE_FIELDS = ["filters", "resume_from", "gpu_model", "gpu", "region", "max_price", "q"]
FILTER_FIELDS = ["gpu", "gpu_model", "region", "provider", "min_price", "max_price", "min_gpu_count", "compliance",
                 "spot", "q"]  # fmt: skip


def _frame(action: str, members: list[tuple[str, str]], filters: list[tuple[str, str]]) -> str:
    """A message text: the action, odd members, and a ``filters`` object of odd members (values are JSON text)."""
    inner = ",".join(f"{_json_text(k)}:{v}" for k, v in filters)
    parts = [f'"action":{_json_text(action)}', *(f"{_json_text(k)}:{v}" for k, v in members), f'"filters":{{{inner}}}']
    return "{" + ",".join(parts) + "}"


ws_frames = (
    st.builds(
        _frame,
        st.sampled_from(["subscribe", "ping", "nope", "$connect", "$default", ""]),
        st.lists(st.tuples(st.sampled_from(SUBSCRIBE_FIELDS) | odd_text, leaf | deep), max_size=4),
        st.lists(st.tuples(st.sampled_from(FILTER_FIELDS) | odd_text, leaf | deep), max_size=4),
    )
    | deep
    | leaf
    | st.text(max_size=60)
)
HOSTILE_FRAMES = [
    '{"action":"subscribe","filters":' + "[" * 1000 + "]" * 1000 + "}",
    '{"action":"subscribe","filters":{"min_price":' + "1" * 4301 + "}}",
    '{"action":"subscribe","resume_from":1e999}',
    '{"action":"subscribe","resume_from":-0,"filters":{"max_price":NaN,"min_price":-Infinity}}',
    '{"action":"subscribe","filters":{"gpu":"\\u0000\\ud800","region":"\x00\x1f"}}',
    '{"action":"subscribe","resume_from":' + "9" * 999 + "}",
    '{"action":"ping","x":' + '{"a":' * 1000 + "1" + "}" * 1000 + "}",
    '{"filters":{}}',
    "[" * 1000,
    "\ud800",
    "",
]


def test_odd_websocket_frames_get_replies_with_codes_and_never_kill_the_socket(ws_url: str) -> None:
    from websockets.sync.client import connect

    with connect(ws_url, open_timeout=10, max_size=None) as ws:

        def run(frame: str) -> None:
            data: str | bytes = frame.encode("utf-8", "surrogatepass") if not frame.isascii() else frame
            if isinstance(data, bytes):
                try:
                    data = data.decode("utf-8")  # a text frame must be UTF-8: the rest goes as a binary frame
                except UnicodeDecodeError:
                    pass
            ws.send(data)
            ws.send('{"action":"ping"}')
            pongs, seen = 1 + _routes_to_ping(frame), []
            while pongs:
                message = json.loads(ws.recv(timeout=10))
                for m in message["messages"] if message.get("type") == "batch" else [message]:
                    seen.append(m)
                    assert "type" in m, f"{frame[:300]!r} -> the front's {m}"  # "Internal server error"
                    assert m.get("type") != "error" or (isinstance(m.get("code"), str) and m["code"]), m
                    pongs -= m.get("type") == "pong"

        for frame in HOSTILE_FRAMES:
            run(frame)
        FUZZ(given(frame=ws_frames)(run))()
        ws.close(4000, "\u202e\x00 odd reason")


@given(
    query=st.dictionaries(st.sampled_from(["token", "resume_from", "x"]) | odd_text, odd_text | cursor, max_size=3),
    headers=st.dictionaries(st.sampled_from(["Origin", "Cookie", "Authorization", "Sec-WebSocket-Protocol"]),
                            odd_text | cursor, max_size=3),
)  # fmt: skip
@FUZZ
def test_connect_with_odd_query_strings_and_headers_never_fails(
    world: World, query: dict[str, str], headers: dict[str, str]
) -> None:
    """``$connect`` in process (a WebSocket client cannot send every odd URI): a refusal is a 4xx, never an error."""
    from tests.component.test_ws_handlers import CONNECT_EVENT, disconnect_event

    event = json.loads(json.dumps(CONNECT_EVENT))
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    event["headers"] = {**event["headers"], **headers}
    connection_id = event["requestContext"]["connectionId"] = f"fuzz-{uuid.uuid4().hex[:12]}="
    try:
        result = world.gateway.runtime.invoke("WsConnectFunction", event)
        assert int(result.get("statusCode", 200)) < 500, result
    finally:  # as API Gateway does after any $connect: the shared ConnectionsTable keeps nothing of this test's
        world.gateway.runtime.invoke("WsDisconnectFunction", disconnect_event(connection_id))
