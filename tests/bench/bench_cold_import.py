"""Benchmark: cold import of every function's handler module, each in fresh Python processes.

Target: median over 5 fresh processes (bytecode already compiled) <= 350 ms per function, and a function that
does not compute on columns must not import NumPy. "Computes on columns" is read from template.yaml: the
function has the MathLayer attached (NumPy ships in that layer only; the deps layer excludes it, so importing
NumPy elsewhere would also fail in Lambda).

Each sample is ``python -c "...; t = perf_counter(); import <module>; print(perf_counter() - t, ...)"``: the
interpreter's own start-up is not counted, everything the module pulls in is. One untimed run per module first
makes sure the bytecode exists. Reference lines: ``import numpy``, ``import boto3`` and ``import
aws_xray_sdk.core`` alone, same method.

Run: ``.venv/bin/python tests/bench/bench_cold_import.py`` from the repository root. Prints a table and a
final JSON line; exits 0 when every function meets the targets, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATHS = [str(ROOT), str(ROOT / "layers" / "core"), str(ROOT / "layers" / "math")]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench.common import add_quick  # noqa: E402
from tests.bench.common import verdict as exit_status  # noqa: E402

ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_SERVICE_NAME": "gpubroker",
    "AWS_DEFAULT_REGION": "us-east-1",
}
TARGET_MS = 350.0
RUNS = 5
MATH_LAYER = {"Ref": "MathLayer"}
# numpy and boto3 as asked; aws_xray_sdk.core because Powertools' Tracer() imports it at module import even
# when tracing is disabled, and that import builds botocore X-Ray clients (a large share of each handler's).
REFERENCES = ("numpy", "boto3", "aws_xray_sdk.core")
QUICK_FUNCTIONS = ("ApiHealthFunction", "ApiListOffersFunction")  # --quick: one without NumPy, one with

PROBE = (
    "import sys, time; sys.path[:0] = {paths!r}; {preload}t = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - t, 'numpy' in sys.modules)"
)
# Diagnosis (informative, not a target): the same import with the X-Ray SDK already loaded before the clock
# starts, i.e. roughly what the handler would cost if Tracer() did not pull the SDK in at import time.
XRAY = "aws_xray_sdk.core"


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONHOME"}}
    env.update(ENV)
    return env


def import_once(module: str, preload: str | None = None) -> tuple[float, bool]:
    """Seconds to import ``module`` in a fresh interpreter, and whether NumPy ended up loaded."""
    code = PROBE.format(paths=PATHS, module=module, preload=f"import {preload}; " if preload else "")
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"import {module} failed:\n{proc.stderr.strip()}")
    seconds, numpy_loaded = proc.stdout.strip().splitlines()[-1].split()
    return float(seconds), numpy_loaded == "True"


@dataclass
class Result:
    name: str
    module: str
    samples_ms: list[float]
    numpy: bool
    numpy_allowed: bool | None  # None: a reference line, not a function
    without_xray_ms: list[float] | None = None  # informative: same import, X-Ray SDK pre-imported

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def median_without_xray(self) -> float | None:
        return statistics.median(self.without_xray_ms) if self.without_xray_ms else None

    @property
    def slow(self) -> bool:
        return self.numpy_allowed is not None and self.median > TARGET_MS

    @property
    def numpy_violation(self) -> bool:
        return self.numpy_allowed is False and self.numpy

    def as_dict(self) -> dict[str, object]:
        return {
            "module": self.module,
            "median_ms": round(self.median, 2),
            "min_ms": round(min(self.samples_ms), 2),
            "max_ms": round(max(self.samples_ms), 2),
            "samples_ms": [round(s, 2) for s in self.samples_ms],
            "median_ms_xray_preloaded": None
            if self.median_without_xray is None
            else round(self.median_without_xray, 2),
            "numpy_imported": self.numpy,
            "numpy_allowed": self.numpy_allowed,
            "ok": not (self.slow or self.numpy_violation),
        }


def measure(name: str, module: str, runs: int, numpy_allowed: bool | None, diagnose: bool = False) -> Result:
    import_once(module)  # warm-up: compiles bytecode, warms the OS file cache
    samples = [import_once(module) for _ in range(runs)]
    if len({np for _, np in samples}) != 1:
        raise RuntimeError(f"{module}: NumPy imported in some runs but not others")
    result = Result(name, module, [s * 1000 for s, _ in samples], samples[0][1], numpy_allowed)
    if diagnose:
        result.without_xray_ms = [import_once(module, preload=XRAY)[0] * 1000 for _ in range(runs)]
    return result


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=RUNS)
    ap.add_argument("--no-diagnosis", action="store_true", help="skip the X-Ray-preloaded column")
    args = add_quick(ap).parse_args(argv)
    if args.quick:
        args.runs, args.no_diagnosis = 1, True

    from infra.local.template import read_app

    app = read_app()
    functions = sorted(app.functions.values(), key=lambda f: f.logical_id)
    if args.quick:
        functions = [f for f in functions if f.logical_id in QUICK_FUNCTIONS]
    results = [
        measure(fn.logical_id, fn.module_name, args.runs, MATH_LAYER in fn.layers, not args.no_diagnosis)
        for fn in functions
    ]
    references = [measure(f"(reference) {m}", m, args.runs, None) for m in REFERENCES[: 1 if args.quick else None]]

    print(f"cold import of each handler module: median of {args.runs} fresh processes, bytecode present")
    load = os.getloadavg()
    print(f"python {sys.version.split()[0]} ({sys.executable}); {os.cpu_count()} CPUs, load avg {load[0]:.2f}")
    print("'no xray' = same import with aws_xray_sdk.core loaded before the clock starts (informative)")
    print()
    hdr = f"{'function':<28} {'median ms':>9} {'min':>8} {'max':>8} {'no xray':>8}  "
    hdr += f"{'numpy':>5} {'allowed':>7}  verdict"
    print(hdr)
    print("-" * len(hdr))
    for r in [*results, *references]:
        if r.numpy_allowed is None:
            allowed, verdict = "", "reference"
        else:
            allowed = "yes" if r.numpy_allowed else "no"
            flags = [f"SLOW > {TARGET_MS:.0f} ms"] if r.slow else []
            flags += ["NUMPY NOT ALLOWED"] if r.numpy_violation else []
            verdict = ", ".join(flags) or "ok"
        nx = r.median_without_xray
        print(
            f"{r.name:<28} {r.median:>9.1f} {min(r.samples_ms):>8.1f} {max(r.samples_ms):>8.1f} "
            f"{'' if nx is None else f'{nx:.1f}':>8}  "
            f"{'yes' if r.numpy else 'no':>5} {allowed:>7}  {verdict}"
        )
    failed = [r.name for r in results if r.slow or r.numpy_violation]
    print()
    print(
        f"target: median <= {TARGET_MS:.0f} ms; NumPy only where MathLayer is attached -> "
        f"{'PASS' if not failed else 'FAIL: ' + ', '.join(failed)}"
    )
    payload = {
        "bench": "cold_import",
        "runs": args.runs,
        "target_ms": TARGET_MS,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "loadavg_1m": round(load[0], 2),
        "functions": {r.name: r.as_dict() for r in results},
        "reference": {r.module: r.as_dict() for r in references},
        "failed": failed,
        "quick": args.quick,
        "pass": not failed,
    }
    print(json.dumps(payload, separators=(",", ":")))
    if any(r.numpy_violation for r in results):  # a wrong import is not a timing: it fails a quick run too
        return 1
    return exit_status(not failed, quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
