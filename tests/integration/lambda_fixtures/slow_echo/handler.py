"""A test-only function for tests/integration/test_local_runtime.py (never in template.yaml): a Powertools REST
resolver whose ``/<prefix>/meet`` waits at a rendezvous and says whether the others came, in which process, on
which request, and how many events its module has served. ``/<prefix>/fail`` raises; ``/<prefix>/exit`` ends its
process, as a crashing runtime would. A direct invocation (Invoke API) is echoed, or raises when it asks to.

The rendezvous proves overlap without timing anything: each request leaves a file in ``?dir=`` and waits (at most
``?timeout=`` seconds) until ``?n=`` files are there. Requests served one at a time never meet."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

app = APIGatewayRestResolver()
served = 0  # module state: one environment's, never another's


def meet(folder: Path, n: int, timeout_s: float) -> bool:
    (folder / uuid.uuid4().hex).touch()
    deadline = time.monotonic() + timeout_s
    while len(list(folder.iterdir())) < n:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@app.get("/<prefix>/meet")
def rendezvous(prefix: str) -> dict[str, Any]:
    global served
    served += 1
    q = app.current_event.get_query_string_value
    met = meet(Path(q("dir", "")), int(q("n", "1")), float(q("timeout", "10")))
    return {
        "met": met,
        "pid": os.getpid(),
        "served": served,
        # read after the wait: a concurrent request in the same process would have replaced them by now
        "path": app.current_event.path,
        "request_id": app.current_event.request_context.request_id,
        "env": os.environ.get("LOCAL_RUNTIME_TEST_VALUE"),
    }


@app.get("/<prefix>/fail")
def fail(prefix: str) -> dict[str, Any]:
    raise RuntimeError(f"{prefix} failed on purpose")


@app.get("/<prefix>/exit")
def leave(prefix: str) -> dict[str, Any]:
    os._exit(3)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "httpMethod" in event:
        return app.resolve(event, context)
    if "raise" in event:
        raise ValueError(event["raise"])
    if "dir" in event:
        return {"met": meet(Path(event["dir"]), int(event["n"]), float(event.get("timeout", 10))), "pid": os.getpid()}
    return {"echo": event, "pid": os.getpid()}
