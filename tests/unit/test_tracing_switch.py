"""Where the ADOT layer traces (template.yaml ``OtelLayerArn``: ``POWERTOOLS_TRACE_DISABLED=true``), the Powertools
Tracer is never built, so the X-Ray SDK is neither imported nor asked to emit a second trace of the invocation."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from gpubroker.observability import LazyTracer
from infra.local.template import ROOT

CODE = """
import sys
from gpubroker.observability import LazyTracer
tracer = LazyTracer()
handler = tracer.capture_lambda_handler(lambda event, context: event["n"] + 1)
assert handler({"n": 1}, None) == 2
print("aws_xray_sdk" in sys.modules, tracer._tracer is None)
"""


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_the_tracer_is_not_built_when_powertools_tracing_is_off(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", value)
    tracer = LazyTracer()
    seen: list[Any] = []

    def run(event: Any, context: Any) -> str:
        seen.append(event)
        return "ok"

    handler = tracer.capture_lambda_handler(run)
    assert handler({"a": 1}, None) == "ok" and seen == [{"a": 1}]
    assert tracer._tracer is None


def test_no_xray_sdk_import_in_a_fresh_interpreter_when_off() -> None:
    env = {"POWERTOOLS_TRACE_DISABLED": "true", "PYTHONPATH": str(ROOT / "layers/core"), "PATH": ""}
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "True"]
