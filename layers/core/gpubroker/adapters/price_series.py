"""Readers for the real public price series in ``shared/data/price-history`` (provenance in its README), as
price-history points. Used to seed history so that market trends are real, not invented.

- ``prime-intellect-aggregate/*.jsonl``: ~30-minute market snapshots per GPU SKU, each with every listing
  provider's average price per GPU-hour. Each provider is its own series (``market-primeintellect-<provider>-<gpu>``,
  ``provider`` = that provider), one point per UTC day: its average at its last snapshot of the day (a daily close).
  A market trend is then a median across providers (``services.market``), where a single aggregate point per
  snapshot counted as one voice against AWS's list price.
- ``aws-p5.48xlarge-daily.csv``: the daily on-demand price of 8 x H100 SXM in us-east-1 (empty prices skipped).
- ``runpod-gpuTypes/*.json``: RunPod GraphQL answers; the secure on-demand price per GPU type.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gpubroker.domain.gpus import UnknownGpu, canonical_gpu


def _point(
    series: str,
    source: str,
    ts: datetime,
    gpu_model: str,
    *,
    per_gpu: float,
    count: int = 1,
    variant: str = "",
    provider: str | None = None,
) -> dict[str, Any]:
    """One price-history point of a public series; ``provider``: whose price it is (default: the ``source``)."""
    suffix = re.sub(r"[^a-z0-9]+", "-", f"{gpu_model}-{variant}".lower()).strip("-")
    who = re.sub(r"[^a-z0-9]+", "-", provider.lower()).strip("-") + "-" if provider else ""
    return {
        "offer_id": f"market-{source}-{who}{suffix}",
        "ts": ts.astimezone(UTC).isoformat(),
        "provider": provider or source,
        "gpu_model": gpu_model,
        "gpu_count": count,
        "price_per_hour": per_gpu * count,
        "price_per_gpu_hour": per_gpu,
        "spot_price_per_hour": None,
        "available": True,
        "series": series,
    }


def _model(name: str, *, hint: str, memory: float | None, provider: str = "") -> str | None:
    """Canonical model from a series' spelling (the form factor comes as a separate word); None if unknown."""
    try:
        return canonical_gpu(name, provider=provider, instance_type=hint, memory_gb=memory)
    except UnknownGpu:
        return None


def _ts(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _socket(snap: dict[str, Any]) -> str:
    """The snapshot's socket, or the one socket all its best deals name (H200_141GB has no socket_type; its deals
    say "SXM5": the series is the SXM card, not the NVL one)."""
    if snap.get("socket_type"):
        return str(snap["socket_type"])
    deals = {
        str(cfg["best_deal"].get("socket") or "")
        for cfg in (snap.get("by_config") or {}).values()
        if isinstance(cfg, dict) and isinstance(cfg.get("best_deal"), dict)
    }
    return deals.pop() if len(deals) == 1 else ""


def prime_intellect(path: Path) -> Iterator[dict[str, Any]]:
    """Per listing provider, its average price per GPU-hour at its last snapshot of each UTC day."""
    close: dict[tuple[str, str], dict[str, Any]] = {}  # (provider, day) -> the point of its latest snapshot
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        snap = json.loads(line)
        memory = re.search(r"(\d+)GB", snap["gpu_type"])
        model = _model(snap["gpu_type"].split("_")[0], hint=_socket(snap),
                       memory=float(memory.group(1)) if memory else None)  # fmt: skip
        if model is None:
            continue
        ts = _ts(snap["timestamp"])
        for provider, stats in sorted((snap.get("by_provider") or {}).items()):
            average = (stats or {}).get("avg")
            if average:
                point = _point("prime-intellect-aggregate", "primeintellect", ts, model, per_gpu=float(average),
                               variant=snap.get("socket_type") or "", provider=provider)  # fmt: skip
                key = (point["offer_id"], point["ts"][:10])
                if key not in close or close[key]["ts"] <= point["ts"]:
                    close[key] = point
    yield from sorted(close.values(), key=lambda p: (p["offer_id"], p["ts"]))


def aws_p5_daily(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row.get("price_usd"):
                ts = _ts(row["timestamp"])
                per_gpu = float(row["price_usd"]) / 8
                yield _point("aws-p5.48xlarge-daily", "aws", ts, "H100-SXM", per_gpu=per_gpu, count=8)


def runpod_gpu_types(path: Path) -> Iterator[dict[str, Any]]:
    stamp = re.search(r"(\d{4}-\d{2}-\d{2}T\d{2})-(\d{2})-(\d{2})([+-]\d{2})-(\d{2})", path.name)
    if not stamp:
        return
    ts = _ts(f"{stamp.group(1)}:{stamp.group(2)}:{stamp.group(3)}{stamp.group(4)}:{stamp.group(5)}")
    data = json.loads(path.read_text(encoding="utf-8"))
    for gpu in data.get("data", {}).get("gpuTypes", data) if isinstance(data, dict) else data:
        price = gpu.get("securePrice") or gpu.get("communityPrice")
        name = str(gpu.get("displayName", ""))
        model = _model(name, hint=name, memory=gpu.get("memoryInGb"), provider="runpod")
        if model is None:
            model = _model(name.split(" ", maxsplit=1)[0], hint=name, memory=gpu.get("memoryInGb"), provider="runpod")
        if model and price:
            yield _point("runpod-gpuTypes", "runpod", ts, model, per_gpu=float(price), variant=name)


def read_series(root: Path) -> Iterator[dict[str, Any]]:
    """Every point of every known series under ``root`` (the price-history folder)."""
    for path in sorted((root / "prime-intellect-aggregate").glob("*.jsonl")):
        yield from prime_intellect(path)
    aws = root / "aws-p5.48xlarge-daily.csv"
    if aws.exists():
        yield from aws_p5_daily(aws)
    for path in sorted((root / "runpod-gpuTypes").glob("*.json")):
        yield from runpod_gpu_types(path)


class PublicPriceSeries:
    """The series under one price-history folder, as a ``PriceSeriesSource``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def points(self) -> Iterator[dict[str, Any]]:
        return read_series(self.root)
