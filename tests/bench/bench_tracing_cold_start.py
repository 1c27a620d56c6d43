"""The cold-start cost of the two tracing choices (docs/decisions.md, "Observability"): what a Lambda's init phase
pays to import and set up the X-Ray SDK (through Powertools' Tracer, which patches boto3) versus OpenTelemetry as
the ADOT Lambda layer sets it up (SDK, X-Ray id generator and propagator, OTLP/HTTP exporter with a batch span
processor, botocore and aws-lambda instrumentations), against the peer that pays nothing (Powertools and boto3 only,
tracing off, what every function imports anyway).

Each scenario runs in a fresh interpreter ``--runs`` times (a cold start imports everything once) and its median
init time is printed, with the ratio to the peer. The two tracing stacks are not project dependencies: each lives in
a scratch venv of its own under ``.tools/bench-tracing/`` (created with uv on first run: needs the package index),
on python3.12, the Lambda runtime. The ADOT layer also starts its collector extension (a separate process, in
parallel with the function's init): not measured here.

    .venv/bin/python tests/bench/bench_tracing_cold_start.py [--runs 15] [--quick]

``--quick`` (make test): the peer only, in this interpreter's environment (no scratch venv, no index), two runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench.common import add_quick, verdict  # noqa: E402

TARGET_RATIO = 1.15
"""The decision holds while OpenTelemetry's init overhead is at most 1.15x the X-Ray SDK's (docs/decisions.md)."""
VENVS = ROOT / ".tools" / "bench-tracing"
COMMON = ["aws-lambda-powertools", "boto3"]
STACKS = {
    "xray": [*COMMON, "aws-xray-sdk"],
    "otel": [
        *COMMON,
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-http",
        "opentelemetry-instrumentation-botocore",
        "opentelemetry-instrumentation-aws-lambda",
        "opentelemetry-propagator-aws-xray",
        "opentelemetry-sdk-extension-aws",
    ],
}
ENV = {
    "POWERTOOLS_SERVICE_NAME": "gpubroker",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
}

PRELUDE = "import time; t0 = time.perf_counter()\n"
CODA = "\nprint((time.perf_counter() - t0) * 1000)\n"
SCENARIOS = {
    "peer: powertools + boto3, tracing off": (
        "xray",
        "from aws_lambda_powertools import Logger, Metrics\nimport boto3\nboto3.session.Session()",
    ),
    "X-Ray SDK (Powertools Tracer, boto3 patched)": (
        "xray",
        "from aws_lambda_powertools import Logger, Metrics, Tracer\nimport boto3\nTracer()\nboto3.session.Session()",
    ),
    "OpenTelemetry (ADOT layer's setup)": (
        "otel",
        "from aws_lambda_powertools import Logger, Metrics\nimport boto3\n"
        "from opentelemetry import trace, propagate\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import BatchSpanProcessor\n"
        "from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator\n"
        "from opentelemetry.sdk.extension.aws.resource._lambda import AwsLambdaResourceDetector\n"
        "from opentelemetry.sdk.resources import get_aggregated_resources\n"
        "from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter\n"
        "from opentelemetry.propagators.aws import AwsXRayPropagator\n"
        "from opentelemetry.instrumentation.botocore import BotocoreInstrumentor\n"
        "from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor\n"
        "p = TracerProvider(id_generator=AwsXRayIdGenerator(),"
        " resource=get_aggregated_resources([AwsLambdaResourceDetector()]))\n"
        "p.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))\n"
        "trace.set_tracer_provider(p)\npropagate.set_global_textmap(AwsXRayPropagator())\n"
        "BotocoreInstrumentor().instrument()\nboto3.session.Session()",
    ),
}


def _python(stack: str) -> Path:
    py = VENVS / stack / "bin" / "python"
    if not py.exists():
        uv = os.environ.get("UV", str(ROOT / ".tools/bin/uv"))
        runtime = os.environ.get("SAM_PY", "python3.12")
        subprocess.run([uv, "venv", "-q", "--python", runtime, str(VENVS / stack)], check=True)
        subprocess.run([uv, "pip", "install", "-q", "--python", str(py), *STACKS[stack]], check=True)
    return py


def _once(py: Path, code: str) -> float:
    env = {"PATH": os.environ.get("PATH", ""), **ENV}
    out = subprocess.run([str(py), "-c", PRELUDE + code + CODA], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = add_quick(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    if args.quick:
        name, (_, code) = next(iter(SCENARIOS.items()))
        ms = statistics.median(_once(Path(sys.executable), code) for _ in range(2))
        print(f"{name:48s} {ms:8.1f} ms")
        print(json.dumps({"quick": True, name: round(ms, 1)}))
        return verdict(True, quick=True)
    results: dict[str, float] = {}
    for name, (stack, code) in SCENARIOS.items():
        py = _python(stack)
        _once(py, code)  # the first run writes the .pyc files; Lambda layers ship them compiled (make build)
        results[name] = statistics.median(_once(py, code) for _ in range(args.runs))
    peer = results["peer: powertools + boto3, tracing off"]
    for name, ms in results.items():
        print(f"{name:48s} {ms:8.1f} ms   x{ms / peer:4.2f}   (+{ms - peer:6.1f} ms over the peer)")
    xray, otel = (results[n] - peer for n in list(SCENARIOS)[1:])
    met = otel <= xray * TARGET_RATIO
    print(f"OpenTelemetry's overhead is {otel / xray:.2f}x the X-Ray SDK's (target <= {TARGET_RATIO})")
    print(json.dumps({"quick": False, **{k: round(v, 1) for k, v in results.items()}}))
    return verdict(met, quick=False)


if __name__ == "__main__":
    sys.exit(main())
