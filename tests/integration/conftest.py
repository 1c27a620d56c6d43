"""An AWS-compatible endpoint for the integration tests: ``AWS_ENDPOINT_URL`` if set (LocalStack, a real
account), else moto in server mode on a free loopback port. Tables and buckets are created from template.yaml
under a per-run prefix, so the tests cannot drift from the infrastructure."""

from __future__ import annotations

import importlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gpubroker.adapters import aws
from gpubroker.wiring.auth import AuthApiDeps
from infra.local.provision import function_environment, provision
from infra.local.stack import free_port
from infra.local.template import App, read_app
from tests.conftest import clear_wiring_caches
from tests.events import Ctx, rest_event


@dataclass
class Endpoint:
    url: str
    names: dict[str, str]
    app: App


@pytest.fixture(scope="session")
def endpoint() -> Iterator[Endpoint]:
    given = os.environ.get("AWS_ENDPOINT_URL")
    server = None
    if not given:
        from moto.server import ThreadedMotoServer

        from infra.local.moto_server import serialise_writes

        serialise_writes()  # conditional writes atomic, as in DynamoDB (see its docstring)
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    url = os.environ["AWS_ENDPOINT_URL"]
    app = read_app()
    prefix = f"it-{uuid.uuid4().hex[:8]}"
    names = provision(app, prefix, endpoint_url=url)
    # POST /bookings names the saga's state machine (!Ref BookingSagaStateMachine); until the local stack provisions
    # state machines, give the reference an ARN so every function's environment resolves (a provisioned one wins)
    names.setdefault("BookingSagaStateMachine", f"arn:aws:states:us-east-1:123456789012:stateMachine:{prefix}-saga")
    os.environ.update(function_environment(app, names))
    os.environ["SNAPSHOT_TTL_SECONDS"] = "0"
    aws.reset()
    try:
        yield Endpoint(url=url, names=names, app=app)
    finally:
        if server is not None:
            server.stop()
            del os.environ["AWS_ENDPOINT_URL"]
        aws.reset()


def fresh_handler(module: str):  # type: ignore[no-untyped-def]
    """The handler module, with the composition root's cached default wiring dropped (each test builds it anew)."""
    clear_wiring_caches()
    return importlib.import_module(f"functions.{module}.handler")


def call_handler(
    module: str, path: str, body: dict[str, Any] | None, deps: Any, *, cookie: str | None = None,
    method: str = "POST", ip: str = "198.51.100.7",
) -> tuple[int, dict[str, Any], dict[str, Any]]:  # fmt: skip
    """A JSON request to a route's handler (a fresh module) as API Gateway sends it: status, body, headers (a
    multi-value header as its list)."""
    ev = rest_event(path, path)
    ev["httpMethod"] = method
    ev["body"] = json.dumps(body) if body is not None else None
    ev["headers"] = {"Content-Type": "application/json", **({"Cookie": cookie} if cookie else {})}
    ev["multiValueHeaders"] = {k: [v] for k, v in ev["headers"].items()}
    ev["requestContext"]["identity"]["sourceIp"] = ip
    res = fresh_handler(module).lambda_handler(ev, Ctx(), deps=deps)
    headers = {**res.get("headers", {}), **{k: v for k, v in (res.get("multiValueHeaders") or {}).items()}}
    return int(res["statusCode"]), json.loads(res["body"]), headers


def wired_auth_deps() -> AuthApiDeps:
    """The auth functions' default wiring against the endpoint, argon2id at a cheaper cost (the same code)."""
    from gpubroker.adapters.passwords import Argon2Hasher
    from gpubroker.wiring import auth

    clear_wiring_caches()
    auth.auth_service_deps().hasher = Argon2Hasher(time_cost=1, memory_kib=8192, parallelism=1)
    return auth.auth_deps()


@pytest.fixture
def own_connections(endpoint: Endpoint) -> Iterator[Callable[..., None]]:
    """``connect(connection_id, at=..., user_id=...)`` into the shared ConnectionsTable, every one deleted after the
    test: a connection left behind with an old ``last_seen`` is "silent" to the next test that sweeps the table."""
    from gpubroker.adapters.connections import DynamoConnectionRepository

    repo = DynamoConnectionRepository(endpoint.names["ConnectionsTable"])
    made: list[str] = []

    def connect(connection_id: str, *, at: Any, user_id: str | None) -> None:
        made.append(connection_id)
        repo.connect(connection_id, at=at, user_id=user_id)

    yield connect
    for connection_id in made:
        repo.delete(connection_id)
