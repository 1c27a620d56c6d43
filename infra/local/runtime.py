"""Runs the real handlers the way Lambda does: every function in execution environments of its own.

An execution environment is a process of its own (module state, Powertools' class-level current event, caches,
clients: nothing shared with another function or another environment of the same function) that serves one
invocation at a time, as a Lambda execution environment does. Each function has a small warm pool of them:

- created on first use (Lambda's cold start: the handler module is imported in the new process, its init phase),
  reused while warm, and stopped after ``GPUBROKER_LOCAL_IDLE_SECONDS`` idle (default 120 s; Lambda keeps an idle
  environment for minutes, with no promise);
- concurrent invocations run in parallel, each in its own environment, up to the function's limit: its
  ``ReservedConcurrentExecutions`` when the template reserves any, else ``GPUBROKER_LOCAL_CONCURRENCY`` (default
  4: the account's 1,000 cannot be served by one laptop, so beyond it an invocation waits for a free environment);
- beyond a *reserved* limit a synchronous invocation is throttled, as Lambda does (HTTP 429
  ``TooManyRequestsException``, reason ``ReservedFunctionConcurrentInvocationLimitExceeded``): :class:`Throttled`.
  The callers that stand for Lambda's asynchronous and event-source invokers (schedules, the seeding) pass
  ``throttle=False`` and wait for capacity instead, as Lambda retries those.

Processes come from multiprocessing's ``forkserver``: a clean single-threaded server process, started on first
use with the stack's environment and the heavy third-party imports done once (:data:`PRELOAD`), forks each new
environment (fork from the threaded stack itself would copy locks held by other threads, and boto3 clients).
Measured in docs/decisions.md ("Execution environments like Lambda's"): a new environment is ready several times
sooner than with ``spawn``. Events and results cross the process boundary as JSON, as they do in Lambda (a result
that is not JSON is ``Runtime.MarshalError``). A handler's exception is :class:`FunctionError` with its type and
message, and its traceback goes to the stack's log; an environment that dies is replaced (``Runtime.ExitError``).

An invocation that runs longer than the function's ``Timeout`` (the template's, per function or in Globals) is
stopped as Lambda stops it: its environment is killed and discarded, and the invocation fails with
``Sandbox.Timedout`` (``Task timed out after N seconds``), the error type Step Functions' Retry and Catch see for a
Lambda timeout. The fault rules of :mod:`infra.local.faults` (``Runtime.faults``) fail or delay the next
invocations of a function, inside its environment, so an injected delay counts against the timeout.

``GPUBROKER_LOCAL_INPROCESS=1`` runs every function in the stack's own process instead (the launcher before
issue 11: REST functions one at a time under one lock, as Powertools keeps the current event at class level),
kept as the benchmark's peer (tests/bench/bench_local_stack.py). The event-source workers
(infra/local/stream_worker.py) run in-process too: each is already a process of its own that serves one
invocation at a time per function.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from infra.local.faults import Faults
from infra.local.template import App, Function

DEFAULT_CONCURRENCY = 4
"""Environments per function without reserved concurrency (``GPUBROKER_LOCAL_CONCURRENCY``)."""
DEFAULT_IDLE_S = 120.0
"""An environment idle this long is stopped (``GPUBROKER_LOCAL_IDLE_SECONDS``)."""
START_METHOD = "forkserver"
PRELOAD = (
    "boto3",
    "botocore.client",
    "pydantic",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.event_handler.openapi.params",
    "aws_lambda_powertools.utilities.typing",
    "jwt",
    "redis",
    "infra.local.runtime",
)
"""Imported once by the fork server, so a new environment starts from them (third-party only: our own modules are
imported by each environment, as Lambda's init phase does). NumPy is not among them: OpenBLAS starts threads at
import, and a process with threads must not fork."""


TIMED_OUT = "Sandbox.Timedout"
"""The error type of an invocation that ran past its function's timeout (what Step Functions' Retry/Catch match)."""
DEAD = frozenset({"Runtime.ExitError", TIMED_OUT})
"""Error types after which the environment is gone (it is replaced by a new one)."""


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 1024
    timeout_s: float = 10.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


class FunctionError(Exception):
    """The handler raised (or its environment failed): Lambda would answer with X-Amz-Function-Error: Unhandled."""

    def __init__(
        self, function: str, exc: BaseException | None = None, *, error_type: str = "", error_message: str = ""
    ) -> None:
        if exc is not None:
            error_type, error_message = type(exc).__name__, str(exc)
        super().__init__(f"{function}: {error_type}: {error_message}")
        self.function = function
        self.error_type = error_type
        self.error_message = error_message


class Throttled(FunctionError):
    """The function is at its reserved concurrency: Lambda refuses a synchronous invocation with HTTP 429
    ``TooManyRequestsException`` (the function does not run; API Gateway answers its caller 500)."""

    reason = "ReservedFunctionConcurrentInvocationLimitExceeded"

    def __init__(self, function: str, limit: int) -> None:
        super().__init__(function, error_type="TooManyRequestsException", error_message="Rate Exceeded.")
        self.limit = limit


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


# ---------------------------------------------------------------------------------------------- the environment


def _serve(conn: Connection, function: str, module: str, attribute: str, env: dict[str, str]) -> None:
    """An execution environment's life (in its own process): init (import the handler), then one invocation at a
    time until the pipe closes. Messages are JSON: ``{"event", "request_id"}`` in; ``{"result"}`` or
    ``{"errorType", "errorMessage"}`` out; the first message out says whether init succeeded."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the stack stops us
    # Powertools warns once per process when metrics are off and none were added: once per environment is noise in
    # the stack's output, not news (the tests filter it the same way, pyproject.toml)
    warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
    os.environ.clear()
    os.environ.update(env)
    from infra.local.metrics import install as install_metrics_sink

    install_metrics_sink()  # EMF lines to the run's metrics file (GET /_local/metrics), the rest to the log
    try:
        handler = getattr(importlib.import_module(module), attribute)
    except Exception as exc:  # Lambda: Runtime.ImportModuleError, the invocation fails, the environment is dropped
        _log_error(function, exc)
        conn.send_bytes(json.dumps(_error("Runtime.ImportModuleError", f"{type(exc).__name__}: {exc}")).encode())
        return
    conn.send_bytes(json.dumps({"ready": os.getpid()}).encode())
    while True:
        try:
            raw = conn.recv_bytes()
        except (EOFError, OSError):
            return  # the stack closed the pipe (reaped, stopped) or died
        message = json.loads(raw)
        context = LambdaContext(function_name=function, aws_request_id=message["request_id"],
                                timeout_s=float(message.get("timeout_s", 10.0)))  # fmt: skip
        answer = _run(function, handler, message["event"], context, message.get("fault"))
        try:
            out = json.dumps(answer)
        except (TypeError, ValueError) as exc:
            out = json.dumps(_error("Runtime.MarshalError", f"Unable to marshal response: {exc}"))
        sys.stdout.flush()
        conn.send_bytes(out.encode())


def _run(
    function: str,
    handler: Callable[..., Any],
    event: Any,
    context: LambdaContext,
    fault: dict[str, Any] | None,
    *,
    log: bool = True,
    isolated: bool = True,
) -> dict[str, Any]:
    """One invocation: ``{"result"}`` or ``{"errorType", "errorMessage"}``, with a fault rule's action
    (infra/local/faults.py) before or after the handler. A ``kill`` rule ends this process with SIGKILL (the stack
    sees ``Runtime.ExitError``); in the stack's own process (``isolated=False``) it only answers that error."""
    if fault is not None and fault["when"] == "before":
        failed = _act(fault, isolated=isolated)
        if failed is not None:
            return failed
    try:
        answer: dict[str, Any] = {"result": handler(event, context)}
    except Exception as exc:
        if log:
            _log_error(function, exc)
        answer = _error(type(exc).__name__, str(exc))
    if fault is not None and fault["when"] == "after":
        failed = _act(fault, isolated=isolated)
        if failed is not None:
            return failed
    return answer


def _act(fault: dict[str, Any], *, isolated: bool) -> dict[str, str] | None:
    """A fault rule's action: wait, then die (``kill``), or fail with its error; None: go on."""
    time.sleep(fault["delay_ms"] / 1000)
    if fault.get("kill"):
        if isolated:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)  # the execution environment dies mid-invocation, as on an OOM kill
        return _error("Runtime.ExitError", f"RequestId: the environment exited (status -9): {fault['message']}")
    if fault["error"]:
        return _error(fault["error"], fault["message"])
    return None


def _error(error_type: str, message: str) -> dict[str, str]:
    return {"errorType": error_type, "errorMessage": message}


def _log_error(function: str, exc: BaseException) -> None:
    """What Lambda's runtime writes to the function's log for an unhandled error."""
    trace = "".join(traceback.format_exception(exc))
    print(f"[ERROR] {function}: {type(exc).__name__}: {exc}\n{trace}", file=sys.stderr, flush=True)


class Environment:
    """One execution environment of one function, seen from the stack: its process and the pipe to it. Used by one
    caller at a time (the pool hands it out)."""

    def __init__(self, ctx: Any, fn: Function, env: dict[str, str]) -> None:
        self.function = fn.logical_id
        self.timeout_s = fn.timeout_s
        parent, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_serve,
            args=(child, fn.logical_id, fn.module_name, fn.attribute, env),
            name=f"lambda:{fn.logical_id}",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.conn: Connection = parent
        self.last_used = time.monotonic()
        self.invocations = 0
        answer = self._receive()  # the init phase
        if "ready" not in answer:
            self.stop()
            raise FunctionError(self.function, error_type=answer["errorType"], error_message=answer["errorMessage"])

    @property
    def pid(self) -> int | None:
        pid: int | None = self.process.pid
        return pid

    def _receive(self) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = json.loads(self.conn.recv_bytes())
            return answer
        except (EOFError, OSError):
            self.process.join(timeout=5)
            code = self.process.exitcode
            return _error("Runtime.ExitError", f"RequestId: the environment exited (status {code})")

    def invoke(self, event: dict[str, Any], fault: dict[str, Any] | None = None) -> tuple[bool, Any]:
        """(ok, result) or (False, {"errorType", "errorMessage"}); after an ExitError or a timeout
        (``Sandbox.Timedout``) the environment is dead."""
        self.invocations += 1
        request_id = str(uuid.uuid4())
        message = {"event": event, "request_id": request_id, "timeout_s": self.timeout_s, "fault": fault}
        try:
            self.conn.send_bytes(json.dumps(message).encode())
        except (OSError, ValueError):
            return False, _error("Runtime.ExitError", "the environment is gone")
        if not self.conn.poll(self.timeout_s):  # Lambda stops the invocation and discards its environment
            self.process.kill()
            self.process.join(timeout=5)
            self.last_used = time.monotonic()
            seconds = f"{self.timeout_s:.2f}"
            return False, _error(TIMED_OUT, f"RequestId: {request_id} Error: Task timed out after {seconds} seconds")
        answer = self._receive()
        self.last_used = time.monotonic()
        if "result" in answer:
            return True, answer["result"]
        return False, answer

    def stop(self) -> None:
        self.conn.close()  # the environment's loop ends at EOF
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=2)


class Pool:
    """The warm environments of one function: at most ``limit`` at once, each serving one invocation at a time."""

    def __init__(self, fn: Function, limit: int, *, reserved: bool, make: Callable[[Function], Environment]) -> None:
        self.fn = fn
        self.limit = limit
        self.reserved = reserved  # the limit is the template's: beyond it Lambda throttles, not waits
        self._make = make
        self._idle: list[Environment] = []  # most recently used last (Lambda reuses a warm environment first)
        self._count = 0  # environments alive or being created, busy or idle
        self._cond = threading.Condition()
        self._closed = False
        self.cold_starts = 0
        self.throttles = 0

    def acquire(self, *, throttle: bool) -> Environment:
        with self._cond:
            while True:
                if self._idle:
                    return self._idle.pop()
                if self._count < self.limit:
                    self._count += 1
                    break
                if self.limit == 0 or (throttle and self.reserved):
                    self.throttles += 1
                    raise Throttled(self.fn.logical_id, self.limit)
                self._cond.wait()
        try:
            env = self._make(self.fn)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        self.cold_starts += 1
        return env

    def release(self, env: Environment, *, healthy: bool) -> None:
        with self._cond:
            healthy = healthy and not self._closed
            if healthy:
                self._idle.append(env)
            else:
                self._count -= 1
            self._cond.notify()
        if not healthy:
            env.stop()

    def reap(self, idle_s: float, now: float) -> int:
        """Stop the environments idle for ``idle_s`` or more; how many."""
        with self._cond:
            old = [e for e in self._idle if now - e.last_used >= idle_s]
            self._idle = [e for e in self._idle if e not in old]
            self._count -= len(old)
            self._cond.notify_all()
        for env in old:
            env.stop()
        return len(old)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for env in idle:
            env.stop()

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {"environments": self._count, "idle": len(self._idle), "busy": self._count - len(self._idle),
                    "limit": self.limit, "cold_starts": self.cold_starts, "throttles": self.throttles}  # fmt: skip

    def idle_pids(self) -> list[int]:
        with self._cond:
            return [e.pid for e in self._idle if e.pid is not None]


# ---------------------------------------------------------------------------------------------------- the runtime


class Runtime:
    """``invoke(function, event)`` for the stack's callers, in execution environments (default) or, with
    ``isolated=False``, in this process."""

    def __init__(
        self,
        app: App,
        *,
        isolated: bool | None = None,
        concurrency: int | None = None,
        idle_s: float | None = None,
    ) -> None:
        self.app = app
        self.isolated = os.environ.get("GPUBROKER_LOCAL_INPROCESS") != "1" if isolated is None else isolated
        self.concurrency = concurrency or int(_env_float("GPUBROKER_LOCAL_CONCURRENCY", DEFAULT_CONCURRENCY))
        self.idle_s = idle_s if idle_s is not None else _env_float("GPUBROKER_LOCAL_IDLE_SECONDS", DEFAULT_IDLE_S)
        self._handlers: dict[str, Callable[..., Any]] = {}
        # in-process only: one invocation at a time per function, as in one execution environment, and one for
        # all the REST functions together (Powertools keeps a resolver's current event on the BaseRouter class,
        # so in one process two REST functions running at once read each other's request)
        self._locks = {lid: threading.Lock() for lid in app.functions}
        self._rest_lock = threading.Lock()
        self._pools: dict[str, Pool] = {}
        self._pools_lock = threading.Lock()
        self._ctx: Any = None
        self._closed = threading.Event()
        self._reaper: threading.Thread | None = None
        self.faults = Faults(app.functions)  # fault injection (infra/local/faults.py): POST /_local/faults

    def function(self, name: str) -> Function:
        if name in self.app.functions:
            return self.app.functions[name]
        raise KeyError(name)

    def module(self, logical_id: str) -> Any:
        """The handler's module imported in this process (the stack reads the resolvers' OpenAPI from it)."""
        return importlib.import_module(self.function(logical_id).module_name)

    def handler(self, logical_id: str) -> Callable[..., Any]:
        if logical_id not in self._handlers:
            fn = self.function(logical_id)
            self._handlers[logical_id] = getattr(self.module(logical_id), fn.attribute)
        return self._handlers[logical_id]

    def invoke(self, logical_id: str, event: dict[str, Any], *, throttle: bool = True) -> Any:
        """Run the function on ``event`` and return its result. Raises KeyError (no such function),
        :class:`Throttled` (at its reserved concurrency; only when ``throttle``: otherwise the call waits for
        capacity, as Lambda's asynchronous and event-source invokers do), :class:`FunctionError`."""
        if not self.isolated:
            return self._invoke_here(logical_id, event)
        pool = self.pool(logical_id)
        env = pool.acquire(throttle=throttle)
        ok, result = env.invoke(event, self.faults.take(logical_id))
        pool.release(env, healthy=ok or result.get("errorType") not in DEAD)
        if ok:
            return result
        raise FunctionError(logical_id, error_type=result["errorType"], error_message=result["errorMessage"])

    def _invoke_here(self, logical_id: str, event: dict[str, Any]) -> Any:
        """In this process: no timeout is enforced (a thread cannot be stopped), fault rules apply."""
        handler = self.handler(logical_id)
        ctx = LambdaContext(function_name=logical_id, timeout_s=self.function(logical_id).timeout_s)
        with self._lock_for(logical_id):
            answer = _run(logical_id, handler, event, ctx, self.faults.take(logical_id), log=False, isolated=False)
        if "result" in answer:
            return answer["result"]
        raise FunctionError(logical_id, error_type=answer["errorType"], error_message=answer["errorMessage"])

    def _lock_for(self, logical_id: str) -> threading.Lock:
        from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

        is_rest = isinstance(getattr(self.module(logical_id), "app", None), BaseRouter)
        return self._rest_lock if is_rest else self._locks[logical_id]

    # -- environments

    def pool(self, logical_id: str) -> Pool:
        with self._pools_lock:
            if logical_id not in self._pools:
                fn = self.function(logical_id)
                reserved = fn.reserved_concurrency
                self._pools[logical_id] = Pool(
                    fn, self.concurrency if reserved is None else int(reserved), reserved=reserved is not None,
                    make=self._environment,
                )  # fmt: skip
                self._start_reaper()
            return self._pools[logical_id]

    def _environment(self, fn: Function) -> Environment:
        if self._closed.is_set():
            raise FunctionError(fn.logical_id, error_type="Runtime.Stopped", error_message="the stack is stopping")
        return Environment(self._context(), fn, dict(os.environ))

    def _context(self) -> Any:
        with self._pools_lock:
            if self._ctx is None:
                ctx = multiprocessing.get_context(START_METHOD)
                if START_METHOD == "forkserver":
                    ctx.set_forkserver_preload(list(PRELOAD))
                self._ctx = ctx
            return self._ctx

    def _start_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = threading.Thread(target=self._reap_loop, name="lambda-reaper", daemon=True)
            self._reaper.start()

    def _reap_loop(self) -> None:
        period = max(0.05, min(self.idle_s / 4, 10.0))
        while not self._closed.wait(period):
            self.reap()

    def reap(self) -> int:
        now = time.monotonic()
        with self._pools_lock:
            pools = list(self._pools.values())
        return sum(p.reap(self.idle_s, now) for p in pools)

    def stats(self) -> dict[str, dict[str, int]]:
        with self._pools_lock:
            pools = dict(self._pools)
        return {lid: p.stats() for lid, p in sorted(pools.items())}

    def close(self) -> None:
        """Stop every idle environment; a busy one stops when its invocation returns (or with this process)."""
        self._closed.set()
        with self._pools_lock:
            pools = list(self._pools.values())
        for p in pools:
            p.close()
