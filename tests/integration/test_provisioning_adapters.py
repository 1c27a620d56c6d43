"""The create-instance adapters (RunPod, Lambda, Vast.ai, Shadeform) against a real HTTP server on 127.0.0.1
replaying recorded answers (tests/fixtures/provisioning/<provider>/, sources in its README).

Per provider: the request shapes, success, idempotency (a retried reserve finds the instance by the name derived
from the key and creates nothing), a create that times out is sent once and then looked up (found: returned;
not found: ProviderUnavailable, transient), and one test per error class (no capacity, quota, auth, 5xx,
timeout) with its ``transient`` flag. No test sleeps between retries (the client's ``sleep`` is recorded)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gpubroker.adapters.providers.http import HttpClient
from gpubroker.adapters.provisioning._base import HttpCapacityProvider
from gpubroker.adapters.provisioning.lambda_cloud import LambdaCapacity
from gpubroker.adapters.provisioning.runpod import RunPodCapacity
from gpubroker.adapters.provisioning.shadeform import ShadeformCapacity
from gpubroker.adapters.provisioning.vast import VastCapacity
from gpubroker.domain.errors import (
    NoCapacity,
    ProviderAuthFailed,
    ProviderUnavailable,
    ProvisioningError,
    QuotaExceeded,
)
from gpubroker.domain.offers import Offer, offer_id_for
from gpubroker.domain.provisioning import InstanceStatus, instance_name

FIXTURES = Path(__file__).parents[1] / "fixtures" / "provisioning"
KEY = "booking:b1:reserve"
NAME = instance_name(KEY)
API_KEY = "sk-test-provisioning-key"


@dataclass
class Reply:
    status: int
    body: bytes
    delay_s: float = 0.0


def recorded(provider: str, case: str) -> Reply:
    data = json.loads((FIXTURES / provider / f"{case}.json").read_text())
    body = b"" if data["body"] is None else json.dumps(data["body"]).encode()
    return Reply(data["status"], body)


@dataclass
class Seen:
    route: str
    headers: dict[str, str]
    body: Any


@dataclass
class Stub:
    url: str = ""
    script: dict[str, list[Reply]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, route: str, *replies: Reply) -> None:
        """Replies for a route in order; the last one repeats."""
        self.script[route] = list(replies)

    def calls(self, route: str) -> list[Seen]:
        return [s for s in self.seen if s.route == route]

    def answer(self, route: str, headers: dict[str, str], body: Any) -> Reply:
        with self.lock:
            self.seen.append(Seen(route, headers, body))
            queued = self.script.get(route)
            if not queued:
                return Reply(404, b'{"error": "unscripted route"}')
            return queued.pop(0) if len(queued) > 1 else queued[0]


def route_of(method: str, path: str, body: Any) -> str:
    """``METHOD /path``; for GraphQL also the operation name (``POST /graphql#Deploy``)."""
    if path == "/graphql" and isinstance(body, dict):
        words = str(body.get("query", "")).replace("(", " ").replace("{", " ").split()
        return f"POST /graphql#{words[1] if len(words) > 1 else ''}"
    return f"{method} {path}"


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            reply = stub.answer(
                route_of(self.command, self.path, body), {k.title(): v for k, v in self.headers.items()}, body
            )
            time.sleep(reply.delay_s)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:  # the client gave up (timeout test)
                pass

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler


@pytest.fixture(scope="module")
def server() -> Iterator[Stub]:
    stub = Stub()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    httpd.daemon_threads = True
    stub.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield stub
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def stub(server: Stub) -> Stub:
    with server.lock:
        server.script.clear()
        server.seen.clear()
    return server


def offer(provider: str, instance_type: str, region: str, gpu_count: int = 1) -> Offer:
    return Offer(
        offer_id=offer_id_for(provider, instance_type, region),
        provider=provider,
        instance_type=instance_type,
        gpu_model="A6000",
        gpu_vendor="nvidia",
        gpu_memory_gb=48,
        gpu_count=gpu_count,
        region=region,
        price_per_hour=1.0 * gpu_count,
        price_per_gpu_hour=1.0,
        as_of=datetime(2026, 12, 1, tzinfo=UTC),
    )


@dataclass(frozen=True)
class Spec:
    """How one provider's calls look on the wire and which recorded answer is which."""

    provider: str
    cls: type[HttpCapacityProvider]
    offer: Offer
    lookup: str  # route listing our instances
    create: str
    describe: str  # route of describe("<id>")
    release: str
    instance_id: str
    empty: str
    one: str
    created: str
    described: str
    released: str
    gone: tuple[str, str]  # (route, fixture) meaning "no such instance"
    errors: tuple[tuple[type[ProvisioningError], str], ...]
    setup: tuple[tuple[str, str], ...] = ()  # (route, fixture) always answered (RunPod's gpuTypes)
    auth_header: tuple[str, str] = ("Authorization", f"Bearer {API_KEY}")

    def adapter(self, url: str, **http: Any) -> HttpCapacityProvider:
        client = HttpClient(timeout_s=http.pop("timeout_s", 2.0), sleep=http.pop("sleep", lambda s: None), **http)
        if self.cls is LambdaCapacity:
            return LambdaCapacity(api_key=API_KEY, base_url=url, http=client, ssh_key_names=("gpubroker",))
        return self.cls(api_key=API_KEY, base_url=url, http=client)

    def prime(self, stub: Stub) -> None:
        for route, case in self.setup:
            stub.on(route, recorded(self.provider, case))


LAMBDA_ID = "0920582c7ff041399e34823a0be62549"
SPECS = [
    Spec(
        "lambda", LambdaCapacity, offer("lambda", "gpu_1x_a100_sxm4", "us-east-1"),
        lookup="GET /api/v1/instances", create="POST /api/v1/instance-operations/launch",
        describe=f"GET /api/v1/instances/{LAMBDA_ID}", release="POST /api/v1/instance-operations/terminate",
        instance_id=LAMBDA_ID, empty="instances_empty", one="instances_one", created="launch_ok",
        described="instance_get", released="terminate_ok",
        gone=("POST /api/v1/instance-operations/terminate", "object_does_not_exist"),
        errors=((NoCapacity, "launch_insufficient_capacity"), (QuotaExceeded, "launch_quota_exceeded"),
                (ProviderAuthFailed, "invalid_api_key")),
    ),
    Spec(
        "shadeform", ShadeformCapacity, offer("shadeform", "hyperstack_A6000", "canada-1"),
        lookup="GET /v1/instances", create="POST /v1/instances/create",
        describe="GET /v1/instances/d290f1ee-6c54-4b01-90e6-d701748f0851/info",
        release="POST /v1/instances/d290f1ee-6c54-4b01-90e6-d701748f0851/delete",
        instance_id="d290f1ee-6c54-4b01-90e6-d701748f0851", empty="instances_empty", one="instances_one",
        created="create_ok", described="instance_info", released="delete_ok",
        gone=("POST /v1/instances/d290f1ee-6c54-4b01-90e6-d701748f0851/delete", "not_found"),
        errors=((NoCapacity, "create_no_capacity"), (QuotaExceeded, "create_quota"),
                (ProviderAuthFailed, "unauthorized")),
        auth_header=("X-Api-Key", API_KEY),
    ),
    Spec(
        "vast", VastCapacity, offer("vast", "1x-RTX_4090-4242424", "Sweden, SE"),
        lookup="GET /api/v0/instances/", create="PUT /api/v0/asks/4242424/",
        describe="GET /api/v0/instances/7835610/", release="DELETE /api/v0/instances/7835610/",
        instance_id="7835610", empty="instances_empty", one="instances_one", created="create_ok",
        described="instance_get", released="destroy_ok",
        gone=("GET /api/v0/instances/7835610/", "instance_gone"),
        errors=((NoCapacity, "create_no_such_ask"), (QuotaExceeded, "create_insufficient_credit"),
                (ProviderAuthFailed, "unauthorized")),
    ),
    Spec(
        "runpod", RunPodCapacity, offer("runpod", "1x_RTX-A6000_SECURE", "global"),
        lookup="POST /graphql#Pods", create="POST /graphql#Deploy", describe="POST /graphql#Pod",
        release="POST /graphql#Terminate", instance_id="50qynxzilsxoey", empty="pods_empty", one="pods_one",
        created="deploy_ok", described="pod", released="terminate_ok", gone=("POST /graphql#Pod", "pod_gone"),
        errors=((NoCapacity, "deploy_no_capacity"), (QuotaExceeded, "deploy_low_balance"),
                (ProviderAuthFailed, "unauthorized")),
        setup=(("POST /graphql#GpuTypeIds", "gpu_types"),),
    ),
]  # fmt: skip
ids = [s.provider for s in SPECS]


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_reserve_creates_once_with_the_providers_request_shape(stub: Stub, spec: Spec) -> None:
    spec.prime(stub)
    stub.on(spec.lookup, recorded(spec.provider, spec.empty))
    stub.on(spec.create, recorded(spec.provider, spec.created))
    got = spec.adapter(stub.url).reserve(spec.offer, gpu_count=1, idempotency_key=KEY)
    assert (got.provider, got.instance_id, got.idempotency_key) == (spec.provider, spec.instance_id, KEY)
    assert got.status is InstanceStatus.PENDING
    (create,) = stub.calls(spec.create)
    assert create.headers[spec.auth_header[0]] == spec.auth_header[1]
    sent = create.body
    if spec.provider == "lambda":
        assert sent == {"region_name": "us-east-1", "instance_type_name": "gpu_1x_a100_sxm4",
                        "ssh_key_names": ["gpubroker"], "quantity": 1, "name": NAME}  # fmt: skip
    elif spec.provider == "shadeform":
        assert sent == {"cloud": "hyperstack", "region": "canada-1", "shade_instance_type": "A6000",
                        "shade_cloud": True, "name": NAME}  # fmt: skip
    elif spec.provider == "vast":
        assert sent["label"] == NAME and sent["client_id"] == "me" and sent["runtype"] == "ssh"
    else:
        assert sent["query"].startswith("mutation Deploy($input: PodFindAndDeployOnDemandInput!)")
        assert sent["variables"]["input"]["gpuTypeId"] == "NVIDIA RTX A6000"
        assert sent["variables"]["input"]["cloudType"] == "SECURE"
        assert sent["variables"]["input"]["name"] == NAME


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_a_retried_reserve_finds_the_instance_and_creates_nothing(stub: Stub, spec: Spec) -> None:
    spec.prime(stub)
    stub.on(spec.lookup, recorded(spec.provider, spec.one))
    stub.on(spec.create, recorded(spec.provider, spec.created))
    got = spec.adapter(stub.url).reserve(spec.offer, gpu_count=1, idempotency_key=KEY)
    assert got.instance_id == spec.instance_id
    assert got.status is InstanceStatus.RUNNING
    assert got.connection.host  # the recorded instance's address
    assert stub.calls(spec.create) == []


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_a_create_that_times_out_is_sent_once_then_found_by_its_name(stub: Stub, spec: Spec) -> None:
    spec.prime(stub)
    stub.on(spec.lookup, recorded(spec.provider, spec.empty), recorded(spec.provider, spec.one))
    slow = recorded(spec.provider, spec.created)
    stub.on(spec.create, Reply(slow.status, slow.body, delay_s=1.0))
    got = spec.adapter(stub.url, timeout_s=0.3).reserve(spec.offer, gpu_count=1, idempotency_key=KEY)
    assert got.instance_id == spec.instance_id
    assert len(stub.calls(spec.create)) == 1  # never re-sent: it landed
    assert len(stub.calls(spec.lookup)) == 2  # before, and after the timeout


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_a_create_that_times_out_and_is_not_found_is_transient(stub: Stub, spec: Spec) -> None:
    spec.prime(stub)
    stub.on(spec.lookup, recorded(spec.provider, spec.empty))
    stub.on(spec.create, Reply(200, b"{}", delay_s=1.0))
    with pytest.raises(ProviderUnavailable) as caught:
        spec.adapter(stub.url, timeout_s=0.3).reserve(spec.offer, gpu_count=1, idempotency_key=KEY)
    assert caught.value.transient is True
    assert caught.value.details == {"timed_out": True}
    assert len(stub.calls(spec.create)) == 1


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_a_5xx_on_create_is_not_retried_and_is_transient(stub: Stub, spec: Spec) -> None:
    spec.prime(stub)
    stub.on(spec.lookup, recorded(spec.provider, spec.empty))
    stub.on(spec.create, Reply(503, b"<html>503 Service Temporarily Unavailable</html>"))
    with pytest.raises(ProviderUnavailable) as caught:
        spec.adapter(stub.url).reserve(spec.offer, gpu_count=1, idempotency_key=KEY)
    assert caught.value.transient is True
    assert len(stub.calls(spec.create)) == 1


@pytest.mark.parametrize(
    ("spec", "error", "case"),
    [pytest.param(s, e, c, id=f"{s.provider}-{e.__name__}") for s in SPECS for e, c in s.errors],
)
def test_recorded_refusals_map_to_permanent_domain_errors(
    stub: Stub, spec: Spec, error: type[ProvisioningError], case: str
) -> None:
    spec.prime(stub)
    stub.on(spec.lookup, recorded(spec.provider, spec.empty))
    stub.on(spec.create, recorded(spec.provider, case))
    with pytest.raises(ProvisioningError) as caught:
        spec.adapter(stub.url).reserve(spec.offer, gpu_count=1, idempotency_key=KEY)
    assert type(caught.value) is error
    assert caught.value.transient is False
    assert caught.value.provider == spec.provider
    assert API_KEY not in str(caught.value) and API_KEY not in repr(caught.value.details)
    assert len(stub.calls(spec.create)) == 1


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_auth_failure_on_the_lookup_stops_before_any_create(stub: Stub, spec: Spec) -> None:
    auth_case = next(c for e, c in spec.errors if e is ProviderAuthFailed)
    stub.on(spec.lookup, recorded(spec.provider, auth_case))
    with pytest.raises(ProviderAuthFailed):
        spec.adapter(stub.url).reserve(spec.offer, gpu_count=1, idempotency_key=KEY)
    assert stub.calls(spec.create) == []


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_reads_are_retried_on_5xx(stub: Stub, spec: Spec) -> None:
    slept: list[float] = []
    stub.on(spec.describe, Reply(502, b""), recorded(spec.provider, spec.described))
    got = spec.adapter(stub.url, sleep=slept.append).describe(spec.instance_id)
    assert got.status is InstanceStatus.RUNNING and got.instance_id == spec.instance_id
    assert len(stub.calls(spec.describe)) == 2 and len(slept) == 1


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_release_terminates(stub: Stub, spec: Spec) -> None:
    stub.on(spec.describe, recorded(spec.provider, spec.described))
    stub.on(spec.release, recorded(spec.provider, spec.released))
    spec.adapter(stub.url).release(spec.instance_id)
    assert len(stub.calls(spec.release)) == 1


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_release_of_an_instance_that_is_gone_is_success(stub: Stub, spec: Spec) -> None:
    route, case = spec.gone
    stub.on(route, recorded(spec.provider, case))
    spec.adapter(stub.url).release(spec.instance_id)  # nothing to undo: no error
    if route != spec.describe:
        stub.on(spec.describe, Reply(404, b'{"error": "not found"}'))
    assert spec.adapter(stub.url).describe(spec.instance_id).status is InstanceStatus.TERMINATED


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_connection_details_never_show_in_a_logged_reservation(stub: Stub, spec: Spec) -> None:
    stub.on(spec.describe, recorded(spec.provider, spec.described))
    got = spec.adapter(stub.url).describe(spec.instance_id)
    assert got.connection.host is not None
    assert got.connection.host not in repr(got) and got.connection.host not in str(got.connection)


def test_instance_names_come_from_the_key_only() -> None:
    assert instance_name("booking:B1:reserve") == instance_name("booking:b1:reserve") == NAME
    assert len(instance_name("x" * 500)) == 60
    with pytest.raises(ValueError):
        instance_name("::")


class RecordingBreaker:
    """A breaker that records what it is told and refuses once ``open`` is set."""

    def __init__(self) -> None:
        self.outcomes: list[str] = []
        self.open = False

    def allow(self) -> bool:
        return not self.open

    def record_success(self) -> None:
        self.outcomes.append("ok")

    def record_failure(self) -> None:
        self.outcomes.append("fail")


def test_create_attempts_feed_the_providers_breaker(stub: Stub) -> None:
    spec = SPECS[0]  # lambda
    breaker = RecordingBreaker()
    adapter = spec.adapter(stub.url, breaker=breaker)
    stub.on(spec.lookup, recorded("lambda", spec.empty))
    stub.on(spec.create, Reply(503, b""))
    with pytest.raises(ProviderUnavailable):
        adapter.reserve(spec.offer, gpu_count=1, idempotency_key=KEY)
    assert breaker.outcomes == ["ok", "fail", "ok"]  # lookup, the 503 create, the lookup after it
    breaker.outcomes.clear()
    stub.on(spec.create, recorded("lambda", "launch_insufficient_capacity"))
    with pytest.raises(NoCapacity):
        adapter.reserve(spec.offer, gpu_count=1, idempotency_key=KEY)
    assert breaker.outcomes == ["ok", "ok"]  # a refusal is an answer: the provider is up
    breaker.open = True
    calls = len(stub.seen)
    with pytest.raises(ProviderUnavailable) as caught:
        adapter.reserve(spec.offer, gpu_count=1, idempotency_key=KEY)
    assert caught.value.transient is True and len(stub.seen) == calls  # nothing sent while open
