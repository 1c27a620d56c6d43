"""The WebSocket front of the local stack: what API Gateway's WEBSOCKET API does, over the `websockets` library.

Routes come from template.yaml (``AWS::ApiGatewayV2::Route`` RouteKey + Target -> Integration -> function).
``$connect`` runs during the opening handshake (a non-2xx answer refuses it), each text frame is routed by the
API's ``RouteSelectionExpression`` (``$request.body.<field>``; else ``$default``; else API Gateway's "Forbidden"
message), ``$disconnect`` runs when the socket closes. A route with a RouteResponse sends the integration's
``body`` back. The ``@connections`` management API is served by the HTTP front through :meth:`post`,
:meth:`close` and :meth:`info` (the handlers reach it through the same environment variable as in AWS), and on
its own port; both answer only requests signed (SigV4) with the run's credentials (infra/local/sigv4.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import secrets
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from infra.local.runtime import FunctionError, Runtime
from infra.local.sigv4 import LocalCredentials, refusal
from infra.local.template import WsRoute

log = logging.getLogger("gpubroker.local.ws")

_MANAGED = re.compile(r"^(?:/[^/@]+)?/@connections/(?P<id>[^/?]+)$")


def _request_time(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


@dataclass
class _Conn:
    connection_id: str
    socket: ServerConnection
    connected_at: float
    source_ip: str
    user_agent: str | None
    last_active: float = field(default_factory=time.time)


class WebSocketFront:
    def __init__(
        self,
        host: str,
        port: int,
        runtime: Runtime,
        routes: list[WsRoute],
        *,
        selection_expression: str = "$request.body.action",
        stage: str = "local",
        workers: int = 32,
        management_port: int = 0,
        credentials: LocalCredentials | None = None,  # what @connections accepts (SigV4); None: a key nobody knows
    ) -> None:
        self.credentials = credentials or LocalCredentials.generate()
        self.host = host
        self.port = port
        self.management_port = management_port
        self.runtime = runtime
        self.routes = {r.route_key: r for r in routes}
        prefix = "$request.body."
        if not selection_expression.startswith(prefix):
            raise ValueError(f"unsupported RouteSelectionExpression {selection_expression!r}")
        self._selection = selection_expression[len(prefix) :].split(".")
        self.stage = stage
        self.api_id = "local"
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ws-invoke")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._stopped: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._pending: dict[int, tuple[str, float]] = {}  # id(socket) -> connection id, connected at
        self._conns: dict[str, _Conn] = {}
        self._sending: set[asyncio.Future[None]] = set()  # frames queued by @connections posts, until sent

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def management_url(self) -> str:
        """The ``@connections`` endpoint's base (append ``/<stage>``), known once :meth:`start` has returned."""
        return f"http://{self.host}:{self.management_port}"

    @property
    def domain_name(self) -> str:
        return f"{self.host}:{self.port}"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._main(ready))
            except BaseException as exc:  # surfaced to start()
                errors.append(exc)
                ready.set()
            finally:
                loop.close()

        logging.getLogger("websockets").setLevel(logging.CRITICAL)
        self._thread = threading.Thread(target=run, name="ws-front", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]

    async def _main(self, ready: threading.Event) -> None:
        from gpubroker.api.ws_frames import MAX_FRAME_BYTES, MAX_MESSAGE_BYTES  # the layers are on sys.path by now

        self._stopped = asyncio.Event()
        async with serve(
            self._session,
            self.host,
            self.port,
            process_request=self._connect,
            # API Gateway's limits: 32 KB a frame, 128 KB a message; a larger one closes the connection with 1009
            max_size=(MAX_MESSAGE_BYTES, MAX_FRAME_BYTES),
            compression=None,
            # the handshake waits for $connect's integration, which API Gateway allows 29 s (the library's default,
            # 10 s, dropped handshakes when 1,000 clients connected and subscribed at once)
            open_timeout=29,
        ) as server:
            self._server = server
            managed = await asyncio.start_server(self._manage, self.host, self.management_port)
            self.management_port = int(managed.sockets[0].getsockname()[1])
            ready.set()
            await self._stopped.wait()
            managed.close()
        # what is still open (a keep-alive @connections client, a queued send) ends before the loop closes, not as
        # "Task was destroyed but it is pending" when the loop is collected
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ events
    def _context(self, conn_id: str, route_key: str, event_type: str, connected_at: float) -> dict[str, Any]:
        now = time.time()
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": base64.b64encode(secrets.token_bytes(6)).decode(),
            "requestTime": _request_time(now),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": int(connected_at * 1000),
            "requestTimeEpoch": int(now * 1000),
            "requestId": base64.b64encode(secrets.token_bytes(6)).decode(),
            "domainName": self.domain_name,
            "connectionId": conn_id,
            "apiId": self.api_id,
        }

    async def _invoke(self, route: WsRoute, event: dict[str, Any]) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._pool, self.runtime.invoke, route.function, event)
        except FunctionError as exc:
            log.error("%s failed: %s", route.function, exc)
            return None
        return result if isinstance(result, dict) else {}

    async def _connect(self, socket: ServerConnection, request: Request) -> Response | None:
        conn_id = base64.b64encode(secrets.token_bytes(10)).decode()  # the shape API Gateway gives: 'L0SM9cOFvHcCIhw='
        connected_at = time.time()
        self._pending[id(socket)] = (conn_id, connected_at)
        route = self.routes.get("$connect")
        if route is None:
            return None
        query = parse_qs(urlsplit(request.path).query, keep_blank_values=True)
        headers = {k: v for k, v in request.headers.raw_items()}
        remote = socket.remote_address
        event: dict[str, Any] = {
            "headers": headers,
            "multiValueHeaders": {k: request.headers.get_all(k) for k in headers},
            "requestContext": {
                **self._context(conn_id, "$connect", "CONNECT", connected_at),
                "identity": {"sourceIp": remote[0] if remote else "127.0.0.1", "userAgent": headers.get("User-Agent")},
            },
            "isBase64Encoded": False,
        }
        if query:
            event["queryStringParameters"] = {k: v[-1] for k, v in query.items()}
            event["multiValueQueryStringParameters"] = query
        result = await self._invoke(route, event)
        status = int((result or {}).get("statusCode", 200)) if result is not None else 500
        if 200 <= status < 300:
            return None
        self._pending.pop(id(socket), None)
        code = HTTPStatus(status) if status in HTTPStatus._value2member_map_ else HTTPStatus.FORBIDDEN
        return socket.respond(code, "Forbidden\n" if status < 500 else "Internal server error\n")

    async def _session(self, socket: ServerConnection) -> None:
        conn_id, connected_at = self._pending.pop(id(socket))
        remote = socket.remote_address
        conn = _Conn(
            connection_id=conn_id,
            socket=socket,
            connected_at=connected_at,
            source_ip=remote[0] if remote else "127.0.0.1",
            user_agent=socket.request.headers.get("User-Agent") if socket.request else None,
        )
        self._conns[conn_id] = conn
        try:
            async for frame in socket:
                conn.last_active = time.time()
                await self._message(conn, frame if isinstance(frame, str) else frame.decode("utf-8", "replace"))
        except ConnectionClosed:
            pass
        finally:
            self._conns.pop(conn_id, None)
            route = self.routes.get("$disconnect")
            if route is not None:
                close = socket.protocol.close_rcvd or socket.protocol.close_sent
                event = {
                    "headers": {"Host": self.domain_name},
                    "multiValueHeaders": {"Host": [self.domain_name]},
                    "requestContext": {
                        **self._context(conn_id, "$disconnect", "DISCONNECT", connected_at),
                        "disconnectStatusCode": close.code if close else 1006,
                        "disconnectReason": close.reason if close else "",
                        "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
                    },
                    "isBase64Encoded": False,
                }
                await self._invoke(route, event)

    def _route_key(self, body: str) -> str | None:
        """The route a message goes to, by the selection expression; ``$default`` (else None: API Gateway's
        "Forbidden") when it names no route or cannot be read. A message past the message bounds (nesting, digit
        runs: ``gpubroker.api.ws_frames``, the REST front door's) is not parsed at all: a thousand levels of
        nesting made ``json.loads`` raise ``RecursionError`` here and the socket close with 1011, as an object without
        the selected field did (a ``KeyError``)."""
        from gpubroker.api.ws_frames import check_message
        from gpubroker.domain.errors import DomainError

        try:
            check_message(body)
            value: Any = json.loads(body)
            for part in self._selection:
                value = value.get(part) if isinstance(value, dict) else None  # no action: ``$default``, not 1011
        except (DomainError, ValueError, TypeError):
            value = None
        if isinstance(value, str) and value in self.routes and not value.startswith("$"):
            return value
        return "$default" if "$default" in self.routes else None

    async def _message(self, conn: _Conn, body: str) -> None:
        key = self._route_key(body)
        request_id = base64.b64encode(secrets.token_bytes(6)).decode()
        if key is None:
            await conn.socket.send(
                json.dumps({"message": "Forbidden", "connectionId": conn.connection_id, "requestId": request_id})
            )
            return
        route = self.routes[key]
        event = {
            "requestContext": {
                **self._context(conn.connection_id, key, "MESSAGE", conn.connected_at),
                "messageId": base64.b64encode(uuid.uuid4().bytes[:9]).decode(),
                "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            },
            "body": body,
            "isBase64Encoded": False,
        }
        result = await self._invoke(route, event)
        if result is None:
            await conn.socket.send(
                json.dumps(
                    {"message": "Internal server error", "connectionId": conn.connection_id, "requestId": request_id}
                )
            )
            return
        if route.two_way and result.get("body") is not None:
            await conn.socket.send(str(result["body"]))

    # ------------------------------------------------------------------ @connections, on the event loop
    async def _manage(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One keep-alive HTTP/1.1 client of the management API (boto3's connection pool holds a few)."""
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                refused = refusal(self.credentials, "execute-api", method, target, headers, body)  # sigv4.py
                if refused is not None:
                    status, extra, payload = refused.status, [f"x-amzn-ErrorType: {refused.code}"], refused.body()
                else:
                    status, extra, payload = await self._managed(method, target.split("?", 1)[0], body)
                reply = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "Content-Type: application/json",
                         f"Content-Length: {len(payload)}", *extra, "", ""]  # fmt: skip
                writer.write("\r\n".join(reply).encode() + payload)
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def _managed(self, method: str, path: str, body: bytes) -> tuple[int, list[str], bytes]:
        match = _MANAGED.match(path)
        if match is None:
            return 404, [], json.dumps({"message": f"no route {path}"}).encode()
        connection_id = unquote(match.group("id"))
        conn = self._conns.get(connection_id)
        gone = (410, ["x-amzn-ErrorType: GoneException"], json.dumps({"message": f"{connection_id} is gone"}).encode())
        if method == "POST":
            if conn is None or conn.socket.state is not State.OPEN:
                return gone
            task = asyncio.ensure_future(self._send_quietly(conn.socket, self._payload(body)))  # in call order
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
            return 200, [], b""
        if method == "DELETE":
            if conn is None:
                return gone
            await conn.socket.close(1000, "closed by the server")
            return 204, [], b""
        if method == "GET":
            info = self.info(connection_id)
            return (200, [], json.dumps(info).encode()) if info is not None else gone
        return 405, ["Allow: DELETE, GET, POST"], json.dumps({"message": "Method not allowed"}).encode()

    @staticmethod
    def _payload(data: bytes) -> str | bytes:
        """API Gateway sends what was posted; JSON goes out as a text frame."""
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data

    # ------------------------------------------------------------------ @connections (called from other threads)
    def _call(self, coro: Any, timeout: float = 10.0) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def post(self, connection_id: str, data: bytes) -> bool:
        conn = self._conns.get(connection_id)
        if conn is None:
            return False
        payload = self._payload(data)
        if conn.socket.state is not State.OPEN:
            return False
        # like API Gateway, accept the post and deliver asynchronously: sends are queued on the front's event loop
        # in call order, so per-connection order is kept, and the poster never waits on a socket
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._send_quietly(conn.socket, payload), self._loop)
        return True

    @staticmethod
    async def _send_quietly(socket: Any, payload: str | bytes) -> None:
        with contextlib.suppress(ConnectionClosed):
            await socket.send(payload)

    def close(self, connection_id: str) -> bool:
        conn = self._conns.get(connection_id)
        if conn is None:
            return False
        self._call(conn.socket.close(1000, "closed by the server"))
        return True

    def info(self, connection_id: str) -> dict[str, Any] | None:
        conn = self._conns.get(connection_id)
        if conn is None:
            return None

        def iso(t: float) -> str:
            return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

        return {
            "ConnectedAt": iso(conn.connected_at),
            "LastActiveAt": iso(conn.last_active),
            "Identity": {"SourceIp": conn.source_ip, "UserAgent": conn.user_agent},
        }


def selection_expression(app_template: dict[str, Any], api: str) -> str:
    return str(app_template["Resources"][api]["Properties"].get("RouteSelectionExpression", "$request.body.action"))
