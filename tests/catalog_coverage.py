"""How well the GPU resolver covers every SkyPilot v8 catalog (issue 10): rows that carry a GPU, how many
normalisation gives a catalog model (a specific board, or a board-unstated model such as ``H100-80GB-Any`` when the
provider does not say which board), how many are reported ambiguous or unknown, and how many resolve *wrongly*.

Wrong = the model contradicts the row's own facts: its per-GPU memory (as the adapter reads it, and any size in the
GPU's name) is outside the spec's memory +-10 %, its manufacturer is not the spec's vendor, or a form-factor word in
the instance type or GPU name (``sxm``, ``pcie``, ``nvl``) is not the spec's form factor (for a board-unstated model:
the form factor of none of its variants).

Used by ``tests/unit/test_catalog_coverage.py`` (the bar: >= 99 % resolved, 0 wrong) and
``tests/bench/report_catalog_coverage.py`` (the per-cloud table). Written against the adapter's public surface only
(``SkyPilotCatalogSource``, ``canonical_gpu``, ``offers.gpu_model_of`` when present), so the report also runs on
older code for a before/after figure.
"""

from __future__ import annotations

import csv
import inspect
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpubroker.adapters.skypilot_catalog import SkyPilotCatalogSource
from gpubroker.domain import offers
from gpubroker.domain.gpus import GpuSpec, UnknownGpu, bundled_catalog, canonical_gpu
from gpubroker.domain.offers import RawOffer, RejectedRow

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "skypilot_v8"
SHARED = ROOT.parent / "shared" / "data" / "catalogs"
SHARED_V8 = ("vast", "lambda", "shadeform", "verda")  # v8 files in ../shared/data (the others there are v6)
TOLERANCE = 0.10


def catalogs() -> dict[str, Path]:
    """Every SkyPilot v8 catalog available: ``label -> file``. The label is the fixture folder (``verda-000c1d0``
    is a second version of verda); the cloud is the label up to its first ``-``."""
    out: dict[str, Path] = {}
    for cloud in SHARED_V8:
        path = SHARED / cloud / "vms.csv"
        if path.exists():
            out[cloud] = path
    if FIXTURES.is_dir():
        for folder in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
            for name in ("vms.csv", "gpu_rows.csv"):
                if (folder / name).exists():
                    out[folder.name] = folder / name
                    break
    return dict(sorted(out.items()))


def cloud_of(label: str) -> str:
    return label.split("-", 1)[0]


@dataclass
class CloudFigures:
    label: str
    gpu_rows: int = 0
    resolved: int = 0  # a catalog model: a specific board or a board-unstated one
    unstated: int = 0  # of which board-unstated (H100-80GB-Any)
    ambiguous: int = 0
    unknown: int = 0
    not_a_gpu: int = 0
    wrong: list[str] = field(default_factory=list)
    models: Counter[str] = field(default_factory=Counter)
    unresolved: Counter[str] = field(default_factory=Counter)

    @property
    def pct(self) -> float:
        return 100.0 * self.resolved / self.gpu_rows if self.gpu_rows else 100.0

    @property
    def specific_pct(self) -> float:
        return 100.0 * (self.resolved - self.unstated) / self.gpu_rows if self.gpu_rows else 100.0


def _forms(spec: GpuSpec) -> set[str]:
    """The form factors a model may be: its own, or each of a board-unstated model's variants'."""
    by = bundled_catalog().by_model()
    return {_form(by[v]) for v in spec.variants} if spec.variants else {_form(spec)}


def _form(spec: GpuSpec) -> str:
    if spec.model.upper().endswith("NVL"):
        return "nvl"
    ff = spec.form_factor.upper()
    return "sxm" if ff.startswith("SXM") else "pcie" if ff.startswith("PCIE") else ff.lower()


_FORM_WORD = re.compile(r"sxm|pcie?|nvl(?!ink|\d)", re.IGNORECASE)
_NAME_GB = re.compile(r"(?<![0-9A-Z])(\d{1,3})\s*GB?(?![A-Z])", re.IGNORECASE)


def contradictions(spec: GpuSpec, row: dict[str, str], raw: RawOffer) -> list[str]:
    """The facts of a row the resolved spec contradicts (empty: not wrong)."""
    out: list[str] = []
    if raw.gpu_memory_gb is not None and abs(raw.gpu_memory_gb - spec.memory_gb) > TOLERANCE * spec.memory_gb:
        out.append(f"memory {raw.gpu_memory_gb:.1f} GB vs spec {spec.memory_gb:g}")
    name = row.get("AcceleratorName") or ""
    sizes = [float(s) for s in _NAME_GB.findall(name)]
    if sizes and not any(abs(s - spec.memory_gb) <= TOLERANCE * spec.memory_gb for s in sizes):
        # a second size is the instance total (Verda "A100-80GB-320GB"): only the first is per GPU
        if abs(sizes[0] - spec.memory_gb) > TOLERANCE * spec.memory_gb:
            out.append(f"name size {sizes[0]:g} GB vs spec {spec.memory_gb:g}")
    maker = _manufacturer(row)
    if maker and maker.upper() != spec.vendor.upper():
        out.append(f"manufacturer {maker} vs {spec.vendor}")
    forms = _forms(spec)
    for text in (row.get("InstanceType") or "", name):
        words = {w.lower()[:3] for w in _FORM_WORD.findall(text)}
        words = {"pcie" if w == "pci" else w for w in words}
        if len(words) == 1:
            (word,) = words
            if word not in forms and not (word == "pcie" and "nvl" in forms):
                out.append(f"{text!r} says {word}, spec {spec.form_factor}")
    return out


_MAKER = re.compile(r"""['"]Manufacturer['"]\s*:\s*['"]([^'"]+)['"]""")


def _manufacturer(row: dict[str, str]) -> str | None:
    found = _MAKER.search(row.get("GpuInfo") or "")
    return found.group(1) if found else None


def _resolve(raw: RawOffer) -> str:
    kwargs: dict[str, Any] = {
        "provider": raw.provider,
        "instance_type": raw.instance_type,
        "memory_gb": raw.gpu_memory_gb,
    }
    params = inspect.signature(canonical_gpu).parameters
    if "memory_type" in params:
        kwargs["memory_type"] = getattr(raw, "gpu_memory_type", None)
    if "vendor" in params:
        kwargs["vendor"] = getattr(raw, "gpu_vendor", None)
    if "form_factor" in params:
        kwargs["form_factor"] = getattr(raw, "gpu_form_factor", None)
    return canonical_gpu(raw.gpu_name or "", **kwargs)


def _rows_and_parses(label: str, path: Path) -> Iterator[tuple[dict[str, str], RawOffer | RejectedRow]]:
    cloud = cloud_of(label)
    source = SkyPilotCatalogSource(cloud, str(path))
    table = list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    parsed = getattr(source, "parsed", None)
    per_row = list(parsed()) if parsed else list(source.rows())
    if len(per_row) != len(table):  # an adapter that merges rows: fall back to parsing row by row
        from gpubroker.adapters.skypilot_catalog import parse_row

        per_row = []
        for row in table:
            try:
                per_row.append(parse_row(cloud, row))
            except RejectedRow as rejected:
                per_row.append(rejected)
    yield from zip(table, per_row, strict=True)


def measure(label: str, path: Path) -> CloudFigures:
    specs = bundled_catalog().by_model()
    fig = CloudFigures(label)
    for row, raw in _rows_and_parses(label, path):
        accelerator = (row.get("AcceleratorName") or "").strip()
        if not accelerator:
            continue
        if isinstance(raw, RejectedRow) or not raw.gpu_name:
            fig.gpu_rows += 1
            fig.unknown += 1
            fig.unresolved[f"{accelerator} (row dropped: {getattr(raw, 'reason', 'no name')})"] += 1
            continue
        try:
            model = _resolve(raw)
        except UnknownGpu as exc:
            unstated = _board_unstated(raw, exc)
            if unstated is not None:
                _count(fig, specs, unstated, row, raw)
                continue
            if exc.reason == "not_a_gpu":
                fig.not_a_gpu += 1
                continue
            fig.gpu_rows += 1
            if exc.reason == "ambiguous_gpu_variant":
                fig.ambiguous += 1
            else:
                fig.unknown += 1
            mem = f" {raw.gpu_memory_gb:.0f}GB" if raw.gpu_memory_gb else ""
            fig.unresolved[f"{exc.reason}: {raw.gpu_name}{mem} [{raw.instance_type}]"] += 1
            continue
        _count(fig, specs, model, row, raw)
    return fig


def _board_unstated(raw: RawOffer, exc: UnknownGpu) -> str | None:
    """The model normalisation gives a row the resolver calls ambiguous (a board-unstated one), if any."""
    gpu_model_of = getattr(offers, "gpu_model_of", None)
    if exc.reason != "ambiguous_gpu_variant" or gpu_model_of is None:
        return None
    try:
        return str(gpu_model_of(raw))
    except RejectedRow:
        return None


def _count(fig: CloudFigures, specs: dict[str, GpuSpec], model: str, row: dict[str, str], raw: RawOffer) -> None:
    fig.gpu_rows += 1
    spec = specs.get(model)
    if spec is None:
        fig.unknown += 1
        fig.unresolved[f"no spec: {model}"] += 1
        return
    fig.resolved += 1
    fig.unstated += bool(getattr(spec, "variants", ()))
    fig.models[model] += 1
    wrong = contradictions(spec, row, raw)
    if wrong:
        fig.wrong.append(f"{raw.instance_type} {raw.gpu_name} -> {model}: {'; '.join(wrong)}")


def measure_all() -> list[CloudFigures]:
    return [measure(label, path) for label, path in catalogs().items()]


def total(figures: list[CloudFigures]) -> CloudFigures:
    tot = CloudFigures("all")
    for f in figures:
        tot.gpu_rows += f.gpu_rows
        tot.resolved += f.resolved
        tot.unstated += f.unstated
        tot.ambiguous += f.ambiguous
        tot.unknown += f.unknown
        tot.not_a_gpu += f.not_a_gpu
        tot.wrong.extend(f.wrong)
    return tot


def table(figures: list[CloudFigures]) -> str:
    """One line per catalog: GPU rows; rows given a specific board; rows given a board-unstated model; rows reported
    ambiguous or unknown; % given a specific board; % given a catalog model (specific or unstated); wrong."""
    lines = [
        f"{'cloud':<16} {'GPU rows':>8} {'specific':>8} {'unstated':>8} {'ambiguous':>9} {'unknown':>7}"
        f" {'specific%':>9} {'resolved%':>9} {'wrong':>5} {'not GPU':>7}"
    ]
    for f in [*figures, total(figures)]:
        lines.append(
            f"{f.label:<16} {f.gpu_rows:>8} {f.resolved - f.unstated:>8} {f.unstated:>8} {f.ambiguous:>9}"
            f" {f.unknown:>7} {f.specific_pct:>8.1f}% {f.pct:>8.1f}% {len(f.wrong):>5} {f.not_a_gpu:>7}"
        )
    return "\n".join(lines)
