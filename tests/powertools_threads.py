"""Powertools' event handler keeps the request being resolved at CLASS level (``BaseRouter.current_event`` and
``BaseRouter.lambda_context``, set by ``resolve``): shared by every resolver in the process. In Lambda one
environment serves one request at a time, so that is fine; tests that run a handler from several threads at once
(the webhook replay, 50 concurrent ``POST /bookings``, the booking idempotency property) would read each other's
request: one delivery answered with another's event (measured: 1 run in 3 of the webhook replay). Module copies do
not help, the class is shared.

:func:`install` makes the two attributes per thread: a data descriptor on ``BaseRouter`` (instance reads and writes)
and a metaclass that routes the class-level reads and writes to the same thread-local slot. A single-threaded
caller sees no difference."""

from __future__ import annotations

import threading
from typing import Any

_NAMES = frozenset({"current_event", "lambda_context"})
_slot = threading.local()


class _PerThread:
    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        try:
            return getattr(_slot, self.name)
        except AttributeError:
            raise AttributeError(self.name) from None

    def __set__(self, instance: Any, value: Any) -> None:
        setattr(_slot, self.name, value)


def install() -> None:
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    meta = type(BaseRouter)
    if getattr(meta, "_gpubroker_per_thread", False):
        return

    class PerThreadMeta(meta):  # type: ignore[misc,valid-type]
        _gpubroker_per_thread = True

        def __setattr__(cls, name: str, value: Any) -> None:
            if name in _NAMES and cls is BaseRouter:
                setattr(_slot, name, value)
                return
            super().__setattr__(name, value)

    for name in _NAMES:
        type.__setattr__(BaseRouter, name, _PerThread(name))
    BaseRouter.__class__ = PerThreadMeta  # type: ignore[method-assign]
