"""The local stack: moto in server mode + the template's resources + the real handlers behind an HTTP front,
a WebSocket front for the template's WEBSOCKET API, and pollers for its DynamoDB stream event sources."""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from infra.local.http_front import RouteCount, make_server
from infra.local.metrics import ENV as METRICS_ENV
from infra.local.metrics import install as install_metrics_sink
from infra.local.provision import function_environment, provision
from infra.local.runtime import Runtime
from infra.local.sigv4 import LocalCredentials
from infra.local.template import ROOT, App, read_app
from infra.local.web_front import WebApp
from infra.local.ws_front import WebSocketFront, selection_expression

# what Lambda puts on sys.path from the layers (/opt/python) and the function folder (/var/task)
for _layer in ("layers/core", "layers/math"):
    if str(ROOT / _layer) not in sys.path:
        sys.path.insert(0, str(ROOT / _layer))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# settings the developer's environment may override over the template's (log noise, tracing, cache TTLs)
LOCAL_OVERRIDES = (
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_TRACE_DISABLED",
    "POWERTOOLS_METRICS_DISABLED",
    "SNAPSHOT_TTL_SECONDS",
    "BROADCAST_CONCURRENCY",
    "FANOUT_DIRECT_LIMIT",
    "FANOUT_CHUNK_SIZE",
    "GPUBROKER_CAPACITY_PROVIDER",
    "GPUBROKER_SANDBOX_REDIS_URL",
    "GPUBROKER_SANDBOX_PREFIX",
    "GPUBROKER_SANDBOX_CAPACITY",
    "GPUBROKER_SANDBOX_LATENCY_MS",
    "GPUBROKER_SANDBOX_FAILURES",
)


# local values of template settings, unless the developer's environment sets them: the local @connections answers
# in a fraction of a millisecond on the same machine, so a sender's time is CPU, not waiting; 16 threads per
# process only contend for the interpreter (measured in docs/decisions.md, "Exact live feeds")
LOCAL_DEFAULTS = {
    "BROADCAST_CONCURRENCY": "4",
    # every booking reserves through the sandbox provider (no provider keys locally), whose instances live in the
    # machine's Redis under a prefix of this run's (LocalStack.sandbox_prefix), so two runs never share one: a
    # provider's capacity (8 GPUs of each model) and a few tens of milliseconds per call, as a real API takes
    "GPUBROKER_CAPACITY_PROVIDER": "sandbox",
    "GPUBROKER_SANDBOX_CAPACITY": "*=8",
    "GPUBROKER_SANDBOX_LATENCY_MS": "50",
}


def parameter_overrides(raw: str | None = None) -> dict[str, str]:
    """``GPUBROKER_LOCAL_PARAMETERS`` (``Name=value Name=value``, as ``sam deploy --parameter-overrides``): template
    parameters the local stack uses instead of their defaults, e.g. ``PaymentTimeoutSeconds=5`` for a saga test."""
    text = os.environ.get("GPUBROKER_LOCAL_PARAMETERS", "") if raw is None else raw
    out = {}
    for pair in text.replace(",", " ").split():
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"GPUBROKER_LOCAL_PARAMETERS: expected Name=value, got {pair!r}")
        out[name] = value
    return out


ASSISTANT_ENV = {
    "ASSISTANT_ENGINE": "AssistantEngine",
    "ASSISTANT_MODEL_ID": "AssistantModelId",
    "ASSISTANT_ENDPOINT": "AssistantEndpoint",
    "ASSISTANT_TIMEOUT_SECONDS": "AssistantTimeoutSeconds",
}


def assistant_parameters() -> dict[str, str]:
    """The assistant's engine from the environment of ``make dev`` (``ASSISTANT_ENGINE=openai
    ASSISTANT_ENDPOINT=http://127.0.0.1:11434/v1 make dev``): the template parameters they stand for."""
    return {param: os.environ[env] for env, param in ASSISTANT_ENV.items() if os.environ.get(env)}


# what the local Stripe server posts to /billing/webhook: the types services/billing_webhooks.py handles (as a real
# endpoint is configured), not localstripe's product/plan/customer chatter
WEBHOOK_EVENTS = (
    "checkout.session.completed", "checkout.session.expired", "customer.subscription.created",
    "customer.subscription.updated", "customer.subscription.deleted", "invoice.paid", "invoice.payment_failed",
    "payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded",
)  # fmt: skip


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def generate_openapi(out: Path) -> subprocess.Popen[str]:
    """``python -m infra.openapi --out out`` in a process of its own (it imports every API function: the stack's
    process need not), started first so that it overlaps moto's start and the provisioning."""
    return subprocess.Popen(  # noqa: S603 - this interpreter, our module
        [sys.executable, "-m", "infra.openapi", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def ingestion_targets(app: App) -> dict[str, Any]:
    """Schedules whose input names a provider and a catalog: provider -> (function, input)."""
    return {s.input["provider"]: s for s in app.schedules if "provider" in s.input and "catalog" in s.input}


class LocalStack:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        ws_port: int = 3001,
        moto_port: int = 0,
        stripe_port: int = 0,
        prefix: str = "gpubroker-local",
        stage: str = "local",
        outbox: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.ws_port = ws_port or free_port(host)
        self.moto_port = moto_port or free_port(host)
        self.stripe_port = stripe_port or free_port(host)
        self.stage = stage
        self.prefix = prefix
        self.app = read_app()
        self.runtime = Runtime(self.app)
        self.names: dict[str, str] = {}
        self._moto: subprocess.Popen[bytes] | None = None
        self._stripe: subprocess.Popen[bytes] | None = None
        self._http: Any = None
        self._ws: WebSocketFront | None = None
        self._workers: list[subprocess.Popen[str]] = []  # the stream worker, then the queue workers
        self.routed = RouteCount()  # requests the HTTP front has passed to a route's function
        # this run's access key: the stack's processes sign with it, its Invoke and @connections APIs accept only it
        self.credentials = LocalCredentials.generate()
        self._openapi_dir: Path | None = None
        # where the moto process writes every mail SES accepts (.eml files): the developer's outbox
        self.outbox = outbox or ROOT / ".local/outbox"
        # the functions' EMF output of this run (infra/local/metrics.py), beside the outbox; removed at stop
        self.metrics_file = self.outbox.parent / f"metrics-{os.getpid()}-{self.port}.jsonl"
        # the sandbox provider's keys in Redis for this run (GPUBROKER_SANDBOX_PREFIX unless the developer sets it)
        run = uuid.uuid4().hex[:12]
        self.sandbox_prefix = f"gpub:sandbox:{prefix}:{run}:"
        # the assistant's keys in Redis (the llm breaker, the per-user budget: AssistantRedisPrefix), this stack's
        # own, so two stacks (or test runs) on one Redis database never share a breaker
        self.redis_key_prefix = f"gpub:{prefix}:{run}:"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_apis(self) -> list[str]:
        return sorted({r.api for r in self.app.ws_routes})

    @property
    def ws_url(self) -> str | None:
        return f"ws://{self.host}:{self.ws_port}" if self.ws_apis else None

    @property
    def management_endpoint(self) -> str:
        """Where the handlers' ``@connections`` calls go, under the stage (as in AWS): the WebSocket front's own
        endpoint once it runs (no thread hop per post), else the HTTP front's."""
        base = self._ws.management_url if self._ws is not None else self.api_url
        return f"{base}/{self.stage}"

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.host}:{self.moto_port}"

    @property
    def stripe_url(self) -> str:
        """The local Stripe-compatible server (infra/local/stripe_server.py): the functions' ``STRIPE_API_BASE``."""
        return f"http://{self.host}:{self.stripe_port}"

    def _launch_stripe(self) -> None:
        """The local Stripe server in its own process, posting its events to this stack's ``/billing/webhook``
        signed with the local webhook secret (wiring/billing.py ``LOCAL_WEBHOOK_SECRET``); awaited in
        :meth:`_stripe_ready`."""
        from gpubroker.wiring.billing import LOCAL_WEBHOOK_SECRET

        self._stripe = subprocess.Popen(  # noqa: S603 - this interpreter, our module, the stack's own host and port
            [sys.executable, "-m", "infra.local.stripe_server", "--host", self.host, "--port", str(self.stripe_port),
             "--webhook", f"{self.api_url}/billing/webhook", "--webhook-secret", LOCAL_WEBHOOK_SECRET,
             "--webhook-events", ",".join(WEBHOOK_EVENTS), "--quiet"], cwd=ROOT,
        )  # fmt: skip

    def _stripe_ready(self) -> None:
        """Wait for the Stripe server, then create the plans' products and prices and the meter
        (infra/stripe_setup.py)."""
        from gpubroker.wiring.billing import LOCAL_API_KEY
        from infra.stripe_setup import client, setup

        assert self._stripe is not None
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection((self.host, self.stripe_port), timeout=0.5):
                    break
            except OSError:
                if self._stripe.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the local Stripe server did not start on {self.stripe_url}") from None
                time.sleep(0.05)
        setup(client(LOCAL_API_KEY, self.stripe_url), say=lambda _: None)

    def _start_moto(self) -> None:
        """moto in its own process, as AWS is not in the caller's process: the handlers' boto3 calls and moto's
        request handling no longer share one GIL (measured in docs/decisions.md)."""
        from infra.local.moto_server import LAMBDA_ENDPOINT_ENV, OUTBOX_ENV

        self.outbox.mkdir(parents=True, exist_ok=True)  # there (empty) from the start: `ls` works before any mail
        # its state machines' Lambda tasks call the HTTP front's Invoke API, signed with the run's key; MOTO_PORT:
        # its other service tasks (DynamoDB, SQS, ...) call this server itself
        env = {**os.environ, **self.credentials.environment(), OUTBOX_ENV: str(self.outbox),
               LAMBDA_ENDPOINT_ENV: self.api_url, "MOTO_PORT": str(self.moto_port)}  # fmt: skip
        for endpoint in [k for k in env if k.startswith("AWS_ENDPOINT_URL")]:
            del env[endpoint]  # its own clients are made with an explicit endpoint
        self._moto = subprocess.Popen(  # noqa: S603 - this interpreter, our module, the stack's own host and port
            [sys.executable, "-m", "infra.local.moto_server", "-H", self.host, "-p", str(self.moto_port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection((self.host, self.moto_port), timeout=0.5):
                    return
            except OSError:
                if self._moto.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto did not start on {self.aws_endpoint}") from None
                time.sleep(0.05)

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # before any client or process exists: every handler's boto3 client, and every process started from here,
        # signs with the run's key, as a function signs with its execution role's (infra/local/sigv4.py)
        for stale in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION"):
            os.environ.pop(stale, None)
        os.environ.update(self.credentials.environment())
        # GET /openapi.json is a function like any other; its document is generated afresh for this run, so every
        # route of the template is in it (in AWS the function ships the file `make build` generated)
        self._openapi_dir = Path(tempfile.mkdtemp(prefix="gpubroker-openapi-"))
        openapi = generate_openapi(self._openapi_dir / "openapi.json")
        self._launch_stripe()  # starts beside moto
        self._start_moto()
        os.environ["AWS_ENDPOINT_URL"] = self.aws_endpoint
        # Lambda's Invoke API is the HTTP front's (a function that invokes another one reaches the real handler)
        os.environ["AWS_ENDPOINT_URL_LAMBDA"] = self.api_url
        os.environ["MOTO_PORT"] = str(self.moto_port)
        # the machine's Redis (every machine of the project runs one): plan rate limits, login throttling and
        # breakers shared by all functions, as in AWS; unreachable, each falls back to its in-process twin
        redis_url = os.environ.get("GPUBROKER_REDIS_URL", "redis://127.0.0.1:6379/0")
        # the account mails' links and Checkout's return URLs open the web app this front serves under /app/
        # (<api>/app/verify-email#token=..., /app/reset-password#token=..., /app/billing/done?session_id=...)
        params = {"RedisUrl": redis_url, "AppUrl": f"{self.api_url}/app", "AssistantRedisPrefix": self.redis_key_prefix,
                  **assistant_parameters(), **parameter_overrides()}  # fmt: skip
        self.redis_key_prefix = params["AssistantRedisPrefix"]
        self.names = provision(self.app, self.prefix, endpoint_url=self.aws_endpoint, params=params)
        local_overrides = {k: os.environ[k] for k in LOCAL_OVERRIDES if k in os.environ}
        apis = self.ws_apis
        if len(apis) > 1:
            raise RuntimeError(f"the local stack serves one WebSocket API; the template has {apis}")
        if apis:  # started first: its @connections endpoint is what the handlers' environment names
            self._ws = WebSocketFront(
                self.host,
                self.ws_port,
                self.runtime,
                self.app.ws_routes,
                selection_expression=selection_expression(self.app.template, apis[0]),
                stage=self.stage,
                credentials=self.credentials,
            )
            self._ws.start()
        endpoints = {api: self.management_endpoint for api in apis}
        os.environ.update(function_environment(self.app, self.names, endpoints, params))
        sandbox = {"GPUBROKER_SANDBOX_REDIS_URL": redis_url, "GPUBROKER_SANDBOX_PREFIX": self.sandbox_prefix}
        os.environ.update({**LOCAL_DEFAULTS, **sandbox, **local_overrides})
        if os.environ.get(METRICS_ENV) != "off":  # the functions' metrics, for GET /_local/metrics
            os.environ[METRICS_ENV] = str(self.metrics_file)
            os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"
            install_metrics_sink()
        self.sandbox_prefix = os.environ["GPUBROKER_SANDBOX_PREFIX"]
        # the official SDK in every function talks to the local Stripe server (no Stripe key needed locally)
        os.environ["STRIPE_API_BASE"] = self.stripe_url
        self._stripe_ready()
        _, errors = openapi.communicate()
        if openapi.returncode != 0:
            raise RuntimeError(f"the OpenAPI document could not be generated:\n{errors}")
        os.environ["OPENAPI_DOCUMENT"] = str(self._openapi_dir / "openapi.json")  # absolute: where it was written
        importlib.invalidate_caches()
        self._http = make_server(
            self.host, self.port, self.runtime, self.stage, connections=self._ws, routed=self.routed,
            credentials=self.credentials, web=WebApp(ROOT / "web/dist", {"ws": self.ws_url}),
        )  # fmt: skip
        threading.Thread(target=self._http.serve_forever, name="http-front", daemon=True).start()

    def _worker(self, *extra: str) -> subprocess.Popen[str]:
        tables = {t.table: self.names[t.table] for t in self.app.stream_triggers}
        queues = {t.queue: [self.names[t.queue], self.names[f"{t.queue}.Arn"]] for t in self.app.queue_triggers}
        for q in {t.on_failure for t in self.app.stream_triggers if t.on_failure}:  # the streams' OnFailure queues
            queues[q] = [self.names[q], self.names[f"{q}.Arn"]]
        env = {**os.environ, "GPUBROKER_STREAM_TABLES": json.dumps(tables), "GPUBROKER_QUEUES": json.dumps(queues)}
        worker = subprocess.Popen(  # noqa: S603 - this interpreter, our module
            [sys.executable, "-m", "infra.local.stream_worker", *extra],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL if extra else subprocess.PIPE,
            text=True,
        )
        self._workers.append(worker)
        return worker

    def launch_streams(self) -> None:
        """Start the stream worker's process (interpreter, imports, the template) without polling yet, so that
        start-up overlaps the seeding; :meth:`start_streams` lets it begin."""
        if self.app.stream_triggers and not self._workers:
            self._worker()

    def start_streams(self) -> None:
        """Deliver every later write on a table's stream, and every message on a queue, to the function the
        template maps to it.

        The pollers run in processes of their own (infra/local/stream_worker.py), as Lambda runs event-source
        functions apart from the API. The stream pollers start after seeding (their iterators are LATEST from then
        on: nobody can be subscribed yet, so replaying the seed's writes would be wasted work), and the stack is
        ready once they hold their iterators. The queue workers start then too, ``min(MaximumConcurrency,
        GPUBROKER_QUEUE_WORKERS)`` per SQS event source, and nothing waits for them: a message waits in its queue
        until they poll (ready in 10.1-11.5 s this way, 10.2-12.3 s with them launched beside the seeding).
        """
        from infra.local.queues import DEFAULT_LOCAL_CONCURRENCY

        self.launch_streams()
        streams = list(self._workers)
        local = int(os.environ.get("GPUBROKER_QUEUE_WORKERS", DEFAULT_LOCAL_CONCURRENCY))
        for trigger in self.app.queue_triggers:
            for _ in range(max(1, min(trigger.max_concurrency, local))):
                self._worker("--queue", trigger.function)
        for worker in self._workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        for worker in streams:
            assert worker.stdout is not None
            line = worker.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"the stream worker did not start (said {line!r})")

    def seed(self, catalogs: Path) -> list[dict[str, Any]]:
        """Run the real ingestion function over every catalog in ``catalogs/<provider>/vms.csv``."""
        targets = ingestion_targets(self.app)
        if not targets:
            raise RuntimeError("template.yaml has no schedule with a provider/catalog input to seed from")
        default_fn = next(iter(targets.values())).function
        reports = []
        for csv in sorted(catalogs.glob("*/vms.csv")):
            provider = csv.parent.name
            target = targets.get(provider)
            fn = target.function if target else default_fn
            event = {**(target.input if target else {"provider": provider}), "catalog": str(csv)}
            reports.append(self.runtime.invoke(fn, event, throttle=False))
        return reports

    def seed_local(self, shared: Path) -> dict[str, Any]:
        """Run every function whose template Metadata asks for a local seed (``${shared}`` = the shared folder)."""
        out = {}
        for lid, fn in sorted(self.app.functions.items()):
            if fn.local_seed is not None:
                event = json.loads(json.dumps(fn.local_seed).replace("${shared}", str(shared)))
                out[lid] = self.runtime.invoke(lid, event, throttle=False)
        return out

    def start_schedules(self, catalogs: Path, every_s: float | None) -> None:
        """Fire the template's schedules on local timers (see infra/local/scheduler.py)."""
        from infra.local.scheduler import Scheduler

        def invoke(function: str, event: dict[str, Any]) -> Any:  # an asynchronous invocation: waits for capacity
            return self.runtime.invoke(function, event, throttle=False)

        self._scheduler = Scheduler(self.app, invoke, catalogs=catalogs, every_s=every_s)
        self._scheduler.start()

    def wait_ready(self, *, since_publish_s: float | None, timeout_s: float = 60.0) -> dict[str, Any]:
        """Return once every documented command works, else raise RuntimeError: ``GET /health/ready`` answers 200
        through the HTTP front (a snapshot is published), a WebSocket ``subscribe`` round trip is answered
        ``subscribed``, and, when a request reached a function while the stack was seeding (``since_publish_s``:
        the time since the last publication; None when none did), ``SNAPSHOT_TTL_SECONDS`` has passed since the
        last publication, so no search function can still hold a manifest it read before. Returns the readiness
        answer."""
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{self.api_url}/health/ready", timeout=5) as resp:  # nosec B310
                    ready: dict[str, Any] = json.loads(resp.read())
                    break
            except (urllib.error.URLError, OSError) as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.api_url}/health/ready did not answer 200: {exc}") from None
                time.sleep(0.1)
        if self.ws_url:
            from websockets.sync.client import connect

            with connect(self.ws_url, open_timeout=10) as ws:
                ws.send(json.dumps({"action": "subscribe", "filters": {}}))
                reply = json.loads(ws.recv(timeout=10))
            if reply.get("type") != "subscribed":
                raise RuntimeError(f"the WebSocket API answered a subscribe with {reply}")
        if since_publish_s is not None:
            time.sleep(max(0.0, self.snapshot_ttl_s - since_publish_s))
        return ready

    @property
    def snapshot_ttl_s(self) -> float:
        """How long a search function may keep a manifest it read (the functions' ``SNAPSHOT_TTL_SECONDS``)."""
        return float(os.environ.get("SNAPSHOT_TTL_SECONDS", "2"))

    def stop(self) -> None:
        if getattr(self, "_scheduler", None) is not None:
            self._scheduler.stop()
        for worker in self._workers:
            worker.terminate()
        for worker in self._workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
        if self._ws is not None:
            self._ws.stop()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        self.runtime.close()
        self.metrics_file.unlink(missing_ok=True)
        if self._openapi_dir is not None:
            shutil.rmtree(self._openapi_dir, ignore_errors=True)
        if self._stripe is not None:
            self._stripe.terminate()
            try:
                self._stripe.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._stripe.kill()
        if self._moto is not None:
            self._moto.terminate()
            try:
                self._moto.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._moto.kill()
