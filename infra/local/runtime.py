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
        # ReservedConcurrentExecutions: 1 in the template -> one invocation at a time here too
        self._locks = {lid: threading.Lock() for lid, fn in app.functions.items() if fn.reserved_concurrency == 1}

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

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        handler = self.handler(logical_id)
        ctx = LambdaContext(function_name=logical_id)
        lock = self._locks.get(logical_id)
        try:
            if lock is None:
                return handler(event, ctx)
            with lock:
                return handler(event, ctx)
        except Exception as exc:
            raise FunctionError(logical_id, exc) from exc
