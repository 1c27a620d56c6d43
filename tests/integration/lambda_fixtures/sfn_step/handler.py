"""A test-only step function for tests/integration/test_local_step_functions.py (never in template.yaml): what a
saga step does, driven by its event.

Each invocation leaves a file in ``dir`` (its time and event), so a test counts the attempts a state machine made
and the time between them. ``{"raise": "Name"}`` raises an exception of that class name (the error name Step
Functions' Retry and Catch see); ``{"sleep": s}`` runs ``s`` seconds (past the function's Timeout: a Lambda
timeout); ``{"task_token": ...}`` (a ``.waitForTaskToken`` task) writes the token to ``dir/token`` and returns."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    folder = Path(event["dir"])
    (folder / f"call-{time.time():.6f}-{uuid.uuid4().hex[:6]}.json").write_text(json.dumps(event))
    if "task_token" in event:
        tmp = folder / "token.tmp"
        tmp.write_text(event["task_token"])
        tmp.replace(folder / "token")
        return {"waiting": True}
    if "raise" in event:
        raise type(str(event["raise"]), (Exception,), {})(f"{event['raise']} on purpose")
    if "sleep" in event:
        time.sleep(float(event["sleep"]))
    return {"step": event.get("step"), "pid": os.getpid(), "remaining_ms": context.get_remaining_time_in_millis()}
