"""Offer source for the SkyPilot catalog format (``vms.csv``), from a local path or an HTTPS URL.

The published catalogs share columns but not meanings; each provider's quirks (all real, see
``../shared/data/README.md``) are undone here, in one table, so normalisation sees one shape:

| provider   | GpuInfo               | per-GPU memory                                   | MemoryGiB column  |
|------------|-----------------------|--------------------------------------------------|-------------------|
| vast       | dict                  | ``SizeInMiB`` is the measured total of all GPUs  | host RAM          |
| verda      | JSON dict             | ``SizeInMiB`` is the total; name has total suffix| host RAM          |
| shadeform  | dict                  | ``SizeInMiB`` holds GB per GPU                   | host RAM          |
| lambda     | dict                  | ``SizeInMiB`` per GPU ("total" field = per GPU)  | host RAM          |
| runpod     | plain name            | none in GpuInfo                                  | GPU memory, total |
| paperspace | plain name            | none                                             | host RAM          |
| others     | dict                  | ``SizeInMiB`` per GPU (SkyPilot's definition)    | host RAM          |
"""

from __future__ import annotations

import ast
import csv
import io
import json
import ssl
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpubroker.domain.errors import SourceError
from gpubroker.domain.offers import RawOffer, RejectedRow

_MIB_PER_GB = 1024.0
_FETCH_TIMEOUT_S = 20.0
_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class _Dialect:
    memory_is_total: bool = False  # SizeInMiB covers all GPUs of the instance
    memory_unit_gb: bool = False  # SizeInMiB actually holds GB
    memory_column_is_gpu_total: bool = False  # MemoryGiB is GPU memory (all GPUs), not host RAM


_DIALECTS: dict[str, _Dialect] = {
    "vast": _Dialect(memory_is_total=True),
    "verda": _Dialect(memory_is_total=True),
    "shadeform": _Dialect(memory_unit_gb=True),
    "runpod": _Dialect(memory_column_is_gpu_total=True),
}


def _num(value: str | None) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise RejectedRow("malformed_row") from exc


def _gpu_info(value: str | None) -> dict[str, Any] | None:
    """GpuInfo is a Python literal (single quotes) in most files and JSON in some; a bare name in others."""
    if not value or not value.strip().startswith("{"):
        return None
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RejectedRow("malformed_row") from exc
    return parsed if isinstance(parsed, dict) else None


def _per_gpu_memory_gb(info: dict[str, Any] | None, count: float | None, dialect: _Dialect) -> float | None:
    if not info or not info.get("Gpus"):
        return None
    gpu = info["Gpus"][0]
    size = (gpu.get("MemoryInfo") or {}).get("SizeInMiB")
    if not isinstance(size, int | float) or size <= 0:
        return None
    gb = float(size) if dialect.memory_unit_gb else float(size) / _MIB_PER_GB
    if dialect.memory_is_total:
        if not count:
            return None
        gb /= count
    return gb


def parse_row(provider: str, row: dict[str, str]) -> RawOffer:
    """One CSV row of ``provider``'s catalog -> :class:`RawOffer` (quirks undone). Raises RejectedRow."""
    dialect = _DIALECTS.get(provider, _Dialect())
    instance_type = (row.get("InstanceType") or "").strip()
    region = (row.get("Region") or "").strip()
    if not instance_type or not region:
        raise RejectedRow("malformed_row")
    count = _num(row.get("AcceleratorCount"))
    memory_col = _num(row.get("MemoryGiB"))
    gpu_memory = _per_gpu_memory_gb(_gpu_info(row.get("GpuInfo")), count, dialect)
    ram = memory_col
    if dialect.memory_column_is_gpu_total:
        ram = None
        if gpu_memory is None and memory_col and count:
            gpu_memory = memory_col / count
    return RawOffer(
        provider=provider,
        instance_type=instance_type,
        region=region,
        gpu_name=(row.get("AcceleratorName") or "").strip() or None,
        gpu_count=count,
        gpu_memory_gb=gpu_memory,
        vcpus=_num(row.get("vCPUs")),
        ram_gb=ram,
        price_per_hour=_num(row.get("Price")),
        spot_price_per_hour=_num(row.get("SpotPrice")),  # 0.00 means "no spot": normalisation drops it
        source="skypilot",
    )


class SkyPilotCatalogSource:
    """Reads one provider's ``vms.csv``; yields a RawOffer or a RejectedRow per data row."""

    def __init__(self, provider: str, location: str, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.provider = provider
        self.location = location
        self._ssl = ssl_context  # None: the system trust store (tests pass one that trusts their local server)

    def _read_text(self) -> str:
        loc = self.location
        try:
            if loc.startswith("https://"):
                req = urllib.request.Request(loc, headers={"User-Agent": "gpubroker-ingest/1"})  # noqa: S310
                with urllib.request.urlopen(req, timeout=_FETCH_TIMEOUT_S, context=self._ssl) as resp:  # noqa: S310
                    data: bytes = resp.read(_MAX_BYTES + 1)
            elif "://" in loc:
                raise SourceError(f"unsupported catalog location {loc!r}: use a path or an https:// URL")
            else:
                data = Path(loc).read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read catalog {loc}: {exc}") from exc
        if len(data) > _MAX_BYTES:
            raise SourceError(f"catalog {loc} is larger than {_MAX_BYTES} bytes")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SourceError(f"catalog {loc} is not UTF-8") from exc

    def rows(self) -> Iterator[RawOffer | RejectedRow]:
        reader = csv.DictReader(io.StringIO(self._read_text(), newline=""))
        required = {"InstanceType", "AcceleratorName", "AcceleratorCount", "Price", "Region"}
        missing = required - set(reader.fieldnames or [])
        if missing:
            raise SourceError(f"catalog {self.location} lacks columns {sorted(missing)}")
        for row in reader:
            try:
                yield parse_row(self.provider, row)
            except RejectedRow as rejected:
                yield rejected
