"""Offer source for the SkyPilot catalog format (``vms.csv``), from a local path or an HTTPS URL, for any cloud.

The published catalogs share columns but not meanings. Each cloud's quirks (all real: ``../shared/data/README.md``
and ``tests/fixtures/skypilot_v8``) are undone here, so normalisation sees one shape:

- **GpuInfo** is a Python literal (single quotes) in most files, JSON in some (Verda), a Python literal with JSON
  ``null`` in others (Hyperstack), a bare name in RunPod's v6 file; fields may be missing or null (``Manufacturer``,
  ``MemoryInfo``, ``Count`` as a string). It is auxiliary: a GpuInfo we cannot read never drops the row, the row
  keeps its AcceleratorName and count and goes without the memory figure.
- **Memory per GPU**: SkyPilot defines ``MemoryInfo.SizeInMiB`` as the memory of one GPU. Some catalogs write the
  total of all the instance's GPUs there, and one cloud changed between versions (Verda 538675a: total; 000c1d0:
  per GPU). So the convention is read from each file: for a GPU listed at several counts, a ``SizeInMiB`` that
  grows with the count is a total, one that stays is per GPU (:func:`memory_convention`). Only a file without that
  evidence falls back to the cloud's declared dialect below. A figure that still contradicts the GPU's spec is not
  hidden by a plausibility window: the resolver reports the row (``unknown_gpu``), see docs/decisions.md.
- **Units**: Shadeform's ``SizeInMiB`` holds GB (48 for an A6000); a file whose sizes are all below 1,024 is read in
  GB (no GPU has less than 1 GiB).
- **MemoryGiB**: host RAM, except in RunPod's v6 file where it is the GPU memory of the instance.
- **Region**: a row without one is kept under the region ``unspecified`` (:data:`NO_REGION`).
- **Availability zones / domains** (OCI's ``AvailabilityZone``, or one instance listed several times in a region):
  an offer is an instance type in a region; its zones are where it launches. Rows of one instance type in one
  region with the same hardware are merged into one raw offer at the lowest on-demand and the lowest spot price of
  its zones (:func:`merge_zones`), so offer ids stay ``(provider, instance type, region)`` and no zone is counted as
  a duplicate.

Declared dialects (used only when a file carries no evidence of its own):

| cloud      | SizeInMiB                             | MemoryGiB column  |
|------------|---------------------------------------|-------------------|
| vast       | measured total of all GPUs            | host RAM          |
| verda      | total of all GPUs (538675a)           | host RAM          |
| shadeform  | GB per GPU                            | host RAM          |
| runpod     | (no GpuInfo dict)                     | GPU memory, total |
| any other  | MiB per GPU (SkyPilot's definition)   | host RAM          |

Checked per cloud on real files: aws, gcp, oci, nebius, cudo, daytona, hyperbolic, hyperstack, jarvislabs, lium,
lambda, mithril, seeweb, ... follow SkyPilot's definition (tests/unit/test_catalog_coverage.py).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from gpubroker.adapters.providers.http import HttpClient
from gpubroker.domain.errors import SourceError
from gpubroker.domain.gpu_names import host_of, instance_facts, parse_name
from gpubroker.domain.offers import RawOffer, RejectedRow

_MIB_PER_GB = 1024.0
_FETCH_TIMEOUT_S = 20.0
_MAX_BYTES = 64 * 1024 * 1024
NO_REGION = "unspecified"  # the region of a row that names none (documented in docs/decisions.md)


@dataclass(frozen=True)
class _Dialect:
    memory_is_total: bool = False  # SizeInMiB covers all GPUs of the instance
    memory_unit_gb: bool = False  # SizeInMiB actually holds GB
    memory_column_is_gpu_total: bool = False  # MemoryGiB is GPU memory (all GPUs), not host RAM


# Vast's instance type is "<count>x-<Vast's gpu_name, spaces as _>-<cores>-<ram>": SkyPilot's fetcher keeps the name
# there verbatim but strips "Ti", "S", "D", "PCIE", "SXM4", "NVL" from AcceleratorName (RTX_3080_Ti -> RTX3080,
# RTX_4090D -> RTX4090, A100_PCIE -> A100; skypilot sky/catalog/data_fetchers/fetch_vast.py), so the instance's
# spelling is the GPU's name.
_GPU_IN_INSTANCE: dict[str, re.Pattern[str]] = {"vast": re.compile(r"^\d+x-(?P<gpu>.+)-\d+-\d+$")}


DEFAULT_DIALECT = _Dialect()  # SkyPilot's definition: any cloud not listed below
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


_JSON_WORDS = re.compile(r"\b(null|true|false|nan|NaN)\b")
_PY_WORDS = {"null": "None", "true": "True", "false": "False", "nan": "None", "NaN": "None"}


@lru_cache(maxsize=8192)
def _gpu_info(value: str | None) -> dict[str, Any] | None:
    """GpuInfo as a dict (read-only: cached, shared by every row that repeats it), or None when the field is empty,
    a bare name, or unreadable (never an error)."""
    if not value or not value.strip().startswith("{"):
        return None
    for text in (value, _JSON_WORDS.sub(lambda m: _PY_WORDS[m.group(1)], value)):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                continue
        return parsed if isinstance(parsed, dict) else None
    return None


def _first_gpu(info: dict[str, Any] | None) -> dict[str, Any]:
    gpus = info.get("Gpus") if info else None
    if isinstance(gpus, list) and gpus and isinstance(gpus[0], dict):
        return gpus[0]
    return {}


def _partition(gpu: dict[str, Any]) -> float | None:
    """AWS's ``GpuPartitionSize`` (g6f: 0.25 of an L4): the share of one GPU a fractional instance gets."""
    share = gpu.get("GpuPartitionSize")
    return float(share) if isinstance(share, int | float) and 0 < share < 1 else None


def _size(gpu: dict[str, Any]) -> float | None:
    memory = gpu.get("MemoryInfo")
    size = memory.get("SizeInMiB") if isinstance(memory, dict) else None
    if isinstance(size, str):
        try:
            size = float(size)
        except ValueError:
            return None
    if not isinstance(size, int | float) or isinstance(size, bool) or not size > 0:
        return None
    return float(size)


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _info_facts(accelerator: str | None, info_name: str | None) -> tuple[str | None, str | None]:
    """Form factor and memory type GpuInfo's name adds to AcceleratorName when both name the same family
    (RunPod v8: ``A100-80GB`` with ``A100 PCIe``; Hyperbolic: ``H100`` with ``NVIDIA-H100-80GB-HBM3``)."""
    if not accelerator or not info_name or info_name == accelerator:
        return None, None
    a, b = parse_name(accelerator), parse_name(info_name)
    if not a.family or a.family != b.family:
        return None, None
    return (b.form if a.form is None else None), (b.memory_type if a.memory_type is None else None)


def memory_convention(rows: Iterable[dict[str, str]]) -> _Dialect | None:
    """What a file's ``SizeInMiB`` means, from the file itself: per GPU, a total of all GPUs, or GB.

    For each GPU name listed at several counts, compare the size at count ``n`` with the size at the smallest
    count: a ratio near ``n / n0`` votes "total", near 1 votes "per GPU". None when the file carries no evidence.
    """
    sizes: dict[str, dict[float, float]] = {}
    all_sizes: list[float] = []
    for row in rows:
        count = _safe_float(row.get("AcceleratorCount"))
        size = _size(_first_gpu(_gpu_info(row.get("GpuInfo"))))
        name = (row.get("AcceleratorName") or "").strip()
        if size is None or not count or count < 1 or count != int(count) or not name:
            continue  # fractional GPUs (AWS g6f: a quarter L4) say nothing about the convention
        all_sizes.append(size)
        sizes.setdefault(name, {}).setdefault(count, size)
    total = per_gpu = 0
    for by_count in sizes.values():
        if len(by_count) < 2:
            continue
        n0 = min(by_count)
        for n, size in by_count.items():
            if n == n0:
                continue
            ratio = size / by_count[n0]
            if abs(ratio - n / n0) <= 0.1 * (n / n0):
                total += 1
            elif abs(ratio - 1) <= 0.1:
                per_gpu += 1
    unit_gb = bool(all_sizes) and max(all_sizes) < _MIB_PER_GB
    if total == per_gpu == 0:
        return _Dialect(memory_unit_gb=True) if unit_gb else None
    return _Dialect(memory_is_total=total > per_gpu, memory_unit_gb=unit_gb)


def file_dialect(provider: str, table: list[dict[str, str]]) -> _Dialect:
    """The file's own convention where it shows one, else the cloud's declared dialect. A file whose GpuInfo
    states GPU memory uses MemoryGiB for host RAM (RunPod's v8 file; its v6 file had no GpuInfo memory)."""
    declared = _DIALECTS.get(provider, DEFAULT_DIALECT)
    found = memory_convention(table)
    states_memory = any(_size(_first_gpu(_gpu_info(row.get("GpuInfo")))) is not None for row in table)
    base = found or declared
    return _Dialect(
        memory_is_total=base.memory_is_total,
        memory_unit_gb=base.memory_unit_gb,
        memory_column_is_gpu_total=declared.memory_column_is_gpu_total and not states_memory,
    )


def _safe_float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None and value.strip() else None
    except ValueError:
        return None


def _per_gpu_memory_gb(size: float | None, count: float | None, dialect: _Dialect) -> float | None:
    if size is None:
        return None
    gb = size if dialect.memory_unit_gb else size / _MIB_PER_GB
    if dialect.memory_is_total:
        if not count:
            return None
        gb /= count
    return gb


def parse_row(provider: str, row: dict[str, str], dialect: _Dialect | None = None) -> RawOffer:
    """One CSV row of ``provider``'s catalog -> :class:`RawOffer` (quirks undone). Raises RejectedRow.

    ``dialect``: the file's memory convention (:func:`memory_convention`); by default the cloud's declared one.
    """
    dialect = dialect or _DIALECTS.get(provider, DEFAULT_DIALECT)
    instance_type = (row.get("InstanceType") or "").strip()
    if not instance_type:
        instance_type = _attachment(row)
    region = (row.get("Region") or "").strip() or NO_REGION
    count = _num(row.get("AcceleratorCount"))
    memory_col = _num(row.get("MemoryGiB"))
    gpu = _first_gpu(_gpu_info(row.get("GpuInfo")))
    share = _partition(gpu)
    if share is not None:  # the memory of a slice: the whole GPU's is the slice's over its share
        size = _size(gpu)
        gpu_memory = _per_gpu_memory_gb(size / share if size else None, 1.0, DEFAULT_DIALECT)
    else:
        gpu_memory = _per_gpu_memory_gb(_size(gpu), count, dialect)
    ram = memory_col
    if dialect.memory_column_is_gpu_total:
        ram = None
        if gpu_memory is None and memory_col and count:
            gpu_memory = memory_col / count
    accelerator = (row.get("AcceleratorName") or "").strip() or None
    in_instance = _GPU_IN_INSTANCE.get(provider)
    named = in_instance.match(instance_type) if in_instance and accelerator else None
    if named:
        accelerator = named.group("gpu").replace("_", " ")
    info_form, info_memory_type = _info_facts(accelerator, _text(gpu.get("Name")))
    upstream = _upstream_form(provider, instance_type, (row.get("UpstreamCloudId") or "").strip())
    return RawOffer(
        gpu_form_factor=info_form or upstream,
        gpu_memory_type=info_memory_type,
        provider=provider,
        instance_type=instance_type,
        region=region,
        gpu_name=accelerator,
        gpu_count=count,
        gpu_memory_gb=gpu_memory,
        gpu_vendor=_text(gpu.get("Manufacturer")),
        vcpus=_num(row.get("vCPUs")),
        ram_gb=ram,
        price_per_hour=_num(row.get("Price")),
        spot_price_per_hour=_num(row.get("SpotPrice")),  # 0.00 means "no spot": normalisation drops it
        source="skypilot",
    )


def _attachment(row: dict[str, str]) -> str:
    """The instance type of a GPU-only row. GCP's catalog prices GPUs apart from the VM they attach to: such a row
    has no InstanceType, and its price is the GPUs' alone. It is named as SkyPilot names the request
    (``A100:8``); a row with neither an instance type nor a GPU is malformed."""
    name = (row.get("AcceleratorName") or "").strip()
    count = (row.get("AcceleratorCount") or "").strip()
    if not name or not count:
        raise RejectedRow("malformed_row")
    try:
        n = float(count)
    except ValueError as exc:
        raise RejectedRow("malformed_row") from exc
    return f"{name}:{n:g}"


def _upstream_form(provider: str, instance_type: str, upstream: str) -> str | None:
    """The form factor the upstream cloud's own instance type states (Prime Intellect's ``UpstreamCloudId``:
    ``gpu_8x_a100_80gb_sxm4`` at Lambda, ``A100_PCIE_80GB`` at Oblivus)."""
    if not upstream or upstream == instance_type:
        return None
    return instance_facts(host_of(provider, instance_type) or provider, upstream).form


def _hardware(raw: RawOffer) -> tuple[Any, ...]:
    return (raw.gpu_name, raw.gpu_count, raw.gpu_memory_gb, raw.vcpus, raw.ram_gb)


def _lowest(values: Iterable[float | None]) -> float | None:
    real = [v for v in values if v is not None and v > 0]
    return min(real) if real else None


def merge_zones(raws: list[RawOffer | RejectedRow]) -> Iterator[RawOffer | RejectedRow]:
    """One raw offer per (instance type, region, hardware): the zones of a region are merged at their lowest
    on-demand and spot prices; rows of one instance type and region with different hardware stay apart (the
    second is then a ``duplicate`` for normalisation to count, as before)."""
    groups: dict[tuple[Any, ...], list[RawOffer]] = {}
    order: list[tuple[Any, ...] | RejectedRow] = []
    for raw in raws:
        if isinstance(raw, RejectedRow):
            order.append(raw)
            continue
        key = (raw.instance_type, raw.region, _hardware(raw))
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(raw)
    for item in order:
        if isinstance(item, RejectedRow):
            yield item
            continue
        group = groups[item]
        if len(group) == 1:
            yield group[0]
            continue
        yield group[0].model_copy(
            update={
                "price_per_hour": _lowest(r.price_per_hour for r in group),
                "spot_price_per_hour": _lowest(r.spot_price_per_hour for r in group),
            }
        )


class SkyPilotCatalogSource:
    """Reads one cloud's ``vms.csv``; yields a RawOffer or a RejectedRow per offer (zones of a region merged)."""

    def __init__(
        self,
        provider: str,
        location: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        http: HttpClient | None = None,
    ) -> None:
        self.provider = provider
        self.location = location
        # an https:// catalog is fetched by the providers' HTTP client: its retries, its time budget and, when the
        # client carries one, the provider's breaker on every attempt. ssl_context None: the system trust store
        # (tests pass one that trusts their local server)
        self._http = (http or HttpClient(timeout_s=_FETCH_TIMEOUT_S, ssl_context=ssl_context)).with_provider(provider)

    def _read_text(self) -> str:
        loc = self.location
        try:
            if loc.startswith("https://"):
                data: bytes = self._http.request("GET", loc, headers={"Accept": "text/csv, */*"}).body
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

    def table(self) -> list[dict[str, str]]:
        """The file's data rows, by header name (column order differs between clouds)."""
        reader = csv.DictReader(io.StringIO(self._read_text(), newline=""))
        required = {"InstanceType", "AcceleratorName", "AcceleratorCount", "Price"}
        missing = required - set(reader.fieldnames or [])
        if missing:
            raise SourceError(f"catalog {self.location} lacks columns {sorted(missing)}")
        return list(reader)

    def parsed(self) -> list[RawOffer | RejectedRow]:
        """One RawOffer or RejectedRow per data row, in file order, before zones are merged."""
        table = self.table()
        dialect = file_dialect(self.provider, table)
        out: list[RawOffer | RejectedRow] = []
        for row in table:
            try:
                out.append(parse_row(self.provider, row, dialect))
            except RejectedRow as rejected:
                out.append(rejected)
        return out

    def rows(self) -> Iterator[RawOffer | RejectedRow]:
        yield from merge_zones(self.parsed())
