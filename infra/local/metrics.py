"""What the local stack's functions would publish to CloudWatch: ``GET /_local/metrics`` on the HTTP front.

In AWS a function's metrics are EMF documents (``{"_aws": {"CloudWatchMetrics": ...}, ...}``) that Powertools
prints to stdout, and CloudWatch Logs turns them into metrics. Locally the stack turns metrics on (unless the
developer's environment sets ``POWERTOOLS_METRICS_DISABLED``) and every process that runs handlers (each execution
environment, each event-source worker, the stack itself) writes its stdout through :class:`EmfSink`: EMF lines go
to one file per run (``GPUBROKER_LOCAL_METRICS``, one JSON document a line, appended whole), everything else to the
terminal as before. :func:`summarize` reads that file back the way CloudWatch would aggregate it: one series per
(namespace, metric, dimension set), with its sample count, sum, min, max, p50 and p99.

``GET /_local/metrics`` answers the series as JSON; ``?format=text`` as a table; ``?name=Latency`` keeps one
metric; ``?dimension=route`` keeps the series of one dimension set (by its dimension names, ``,``-separated).
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

ENV = "GPUBROKER_LOCAL_METRICS"
PATH = "/_local/metrics"
_MAX_SAMPLES = 10_000  # per series: the newest kept for the percentiles (count, sum, min and max see them all)


class EmfSink(io.TextIOBase):
    """A stdout that sends whole EMF lines to ``path`` and everything else to ``out``."""

    def __init__(self, out: TextIO, path: str) -> None:
        self.out = out
        self.path = path
        self._pending = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
            passthrough = [line for line in lines if not self._captured(line)]
        if passthrough:
            self.out.write("".join(f"{line}\n" for line in passthrough))
        return len(text)

    def _captured(self, line: str) -> bool:
        if not line.startswith('{"_aws"'):
            return False
        with open(self.path, "a", encoding="utf-8") as fh:  # one write per line: appends never interleave
            fh.write(line + "\n")
        return True

    def flush(self) -> None:
        self.out.flush()

    def fileno(self) -> int:
        return self.out.fileno()


def install() -> None:
    """Route this process's EMF output to the run's file, if the stack named one (``GPUBROKER_LOCAL_METRICS``)."""
    path = os.environ.get(ENV)
    if path and not isinstance(sys.stdout, EmfSink):
        sys.stdout = EmfSink(sys.stdout, path)


def _documents(path: Path) -> Iterable[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("_aws"), dict):
            yield doc


def _values(raw: Any) -> list[float]:
    items = raw if isinstance(raw, list) else [raw]
    return [float(v) for v in items if isinstance(v, int | float) and not isinstance(v, bool)]


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summarize(path: Path, *, name: str | None = None, dimension: str | None = None) -> list[dict[str, Any]]:
    """The series of the EMF documents in ``path``, sorted by namespace, metric and dimensions."""
    series: dict[tuple[str, str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
    for doc in _documents(path):
        for directive in doc["_aws"].get("CloudWatchMetrics") or []:
            namespace = str(directive.get("Namespace", ""))
            for definition in directive.get("Metrics") or []:
                metric = str(definition.get("Name"))
                if name is not None and metric != name:
                    continue
                values = _values(doc.get(metric))
                for dims in directive.get("Dimensions") or [[]]:
                    if dimension is not None and sorted(d for d in dims if d != "service") != sorted(
                        d for d in dimension.split(",") if d and d != "service"
                    ):
                        continue
                    labels = tuple(sorted((str(d), str(doc.get(d, ""))) for d in dims))
                    entry = series.setdefault((namespace, metric, labels), {"unit": definition.get("Unit", ""),
                                                                            "samples": []})  # fmt: skip
                    entry["samples"].extend(values)
                    del entry["samples"][:-_MAX_SAMPLES]
                    entry["count"] = entry.get("count", 0) + len(values)
                    entry["sum"] = entry.get("sum", 0.0) + sum(values)
                    entry["min"] = min([entry.get("min", math.inf), *values])
                    entry["max"] = max([entry.get("max", -math.inf), *values])
    out = []
    for (namespace, metric, labels), entry in sorted(series.items()):
        ordered = sorted(entry["samples"])
        out.append({
            "namespace": namespace, "name": metric, "unit": entry["unit"], "dimensions": dict(labels),
            "count": entry["count"], "sum": round(entry["sum"], 3),
            "min": entry["min"] if ordered else None, "max": entry["max"] if ordered else None,
            "p50": _percentile(ordered, 0.5) if ordered else None,
            "p99": _percentile(ordered, 0.99) if ordered else None,
        })  # fmt: skip
    return out


def as_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """The series as a fixed-width table (what ``?format=text`` answers)."""
    lines = [f"{'metric':28s} {'dimensions':60s} {'count':>7s} {'sum':>12s} {'p50':>10s} {'p99':>10s}  unit"]
    for r in rows:
        dims = ",".join(f"{k}={v}" for k, v in r["dimensions"].items() if k != "service") or "(service)"
        p50 = "" if r["p50"] is None else f"{r['p50']:.1f}"
        p99 = "" if r["p99"] is None else f"{r['p99']:.1f}"
        lines.append(
            f"{r['name']:28s} {dims[:60]:60s} {r['count']:7d} {r['sum']:12.1f} {p50:>10s} {p99:>10s}  {r['unit']}"
        )
    return "\n".join(lines) + "\n"
