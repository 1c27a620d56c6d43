"""Runs the real handlers in-process, the way Lambda would: one module per function, a context per call."""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.local.template import App, Function


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
    """The handler raised: Lambda would answer with X-Amz-Function-Error: Unhandled."""

    def __init__(self, function: str, exc: BaseException) -> None:
        super().__init__(f"{function}: {type(exc).__name__}: {exc}")
        self.error_type = type(exc).__name__
        self.error_message = str(exc)


class Runtime:
    def __init__(self, app: App) -> None:
        self.app = app
        self._handlers: dict[str, Callable[..., Any]] = {}
        # One invocation at a time per function, as in one Lambda execution environment: a handler's module state
        # belongs to one event at a time. Lambda scales out with more environments, not threads; here there is
        # one environment per function (the template's ReservedConcurrentExecutions: 1 holds here as well).
        self._locks = {lid: threading.Lock() for lid in app.functions}
        # ...and one for all the REST functions together: Powertools keeps a resolver's current event on the
        # BaseRouter class, so in one process two REST functions running at once read each other's request
        # (measured: GET /audit answered with the requestContext of a concurrent POST /math/...).
        self._rest_lock = threading.Lock()

    def function(self, name: str) -> Function:
        if name in self.app.functions:
            return self.app.functions[name]
        raise KeyError(name)

    def module(self, logical_id: str) -> Any:
        return importlib.import_module(self.function(logical_id).module_name)

    def handler(self, logical_id: str) -> Callable[..., Any]:
        if logical_id not in self._handlers:
            fn = self.function(logical_id)
            self._handlers[logical_id] = getattr(self.module(logical_id), fn.attribute)
        return self._handlers[logical_id]

    def _lock_for(self, logical_id: str) -> threading.Lock:
        from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

        is_rest = isinstance(getattr(self.module(logical_id), "app", None), BaseRouter)
        return self._rest_lock if is_rest else self._locks[logical_id]

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        handler = self.handler(logical_id)
        ctx = LambdaContext(function_name=logical_id)
        try:
            with self._lock_for(logical_id):
                return handler(event, ctx)
        except Exception as exc:
            raise FunctionError(logical_id, exc) from exc
