"""The GPU catalog (verified specs) and the one place that turns a provider's GPU spelling into a canonical model.

Canonical ids are one name per real GPU: ``RTX-A6000`` whatever the spelling (``A6000``, ``RTXA6000``,
``RTX-A6000``); ``H100-SXM``, ``H100-PCIe`` and ``H100-NVL`` are three GPUs. A name we cannot map is reported,
never guessed: :class:`UnknownGpu` carries the raw spelling.
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field

_SPEC_FIELDS = (
    "memory_gb",
    "memory_bandwidth_gbps",
    "fp16_tensor_tflops",
    "fp32_tflops",
    "tdp_w",
    "architecture",
    "release_year",
)


class GpuSpec(BaseModel):
    """One GPU model. Units: GB (per GPU), GB/s, dense TFLOPS, watts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    vendor: str
    name: str
    architecture: str
    release_year: int = Field(ge=2010, le=2030)
    memory_gb: float = Field(gt=0)
    memory_type: str
    memory_bandwidth_gbps: float = Field(gt=0)
    fp16_tensor_tflops: float = Field(gt=0, description="dense FP16/BF16 tensor TFLOPS (no sparsity)")
    fp32_tflops: float = Field(gt=0, description="non-tensor FP32 TFLOPS")
    tdp_w: float = Field(gt=0)
    form_factor: str
    sources: dict[str, str]
    notes: str | None = None


class GpuCatalog(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str
    gpus: tuple[GpuSpec, ...]

    def by_model(self) -> dict[str, GpuSpec]:
        return {g.model: g for g in self.gpus}


@cache
def bundled_catalog() -> GpuCatalog:
    """The catalog shipped in the core layer (``gpubroker/data/gpus.json``), parsed once per container."""
    raw = resources.files("gpubroker.data").joinpath("gpus.json").read_text(encoding="utf-8")
    return GpuCatalog.model_validate(json.loads(raw))


def missing_sources(spec: GpuSpec) -> list[str]:
    """Spec fields that have no recorded source."""
    return [f for f in _SPEC_FIELDS if not spec.sources.get(f)]


class UnknownGpu(Exception):
    """The raw GPU name maps to no canonical model (or to several): report it, do not guess."""

    def __init__(self, raw: str, *, reason: str = "unknown_gpu") -> None:
        super().__init__(f"{reason}: {raw}")
        self.raw = raw
        self.reason = reason


_SEPARATORS = re.compile(r"[\s_\-]+")


def _key(name: str) -> str:
    """Spelling-insensitive key: upper case, no separators, no vendor/brand noise."""
    key = _SEPARATORS.sub("", name.upper())
    for noise in ("NVIDIA", "TESLA", "GEFORCE", "AMDINSTINCT"):
        key = key.replace(noise, "")
    return key


# spelling key -> canonical id (every canonical id also maps to itself, which makes resolution idempotent)
_ALIASES: dict[str, str] = {
    "A10": "A10",
    "A10G": "A10G",
    "A16": "A16",
    "A30": "A30",
    "A40": "A40",
    "A10040GB": "A100-40GB",
    "A10080GB": "A100-80GB",
    "A10080GBSXM": "A100-80GB",
    "H100SXM": "H100-SXM",
    "H100SXM5": "H100-SXM",
    "H100PCIE": "H100-PCIe",
    "H100NVL": "H100-NVL",
    "H200": "H200",
    "H200SXM": "H200",
    "GH200": "GH200",
    "B200": "B200",
    "B300": "B300",
    "L4": "L4",
    "L40": "L40",
    "L40S": "L40S",
    "T4": "T4",
    "V10016GB": "V100-16GB",
    "V10032GB": "V100-32GB",
    "A4000": "RTX-A4000",
    "RTXA4000": "RTX-A4000",
    "A4500": "RTX-A4500",
    "RTXA4500": "RTX-A4500",
    "A5000": "RTX-A5000",
    "RTXA5000": "RTX-A5000",
    "A6000": "RTX-A6000",
    "RTXA6000": "RTX-A6000",
    "RTX4000ADA": "RTX-4000-Ada",
    "RTX6000ADA": "RTX-6000-Ada",
    "RTXPRO6000": "RTX-PRO-6000",
    "RTX6000": "Quadro-RTX-6000",
    "QUADRORTX6000": "Quadro-RTX-6000",
    "M4000": "Quadro-M4000",
    "QUADROM4000": "Quadro-M4000",
    "P4000": "Quadro-P4000",
    "QUADROP4000": "Quadro-P4000",
    "RTX3060": "RTX-3060",
    "RTX3070": "RTX-3070",
    "RTX3090": "RTX-3090",
    "RTX4090": "RTX-4090",
    "RTX5090": "RTX-5090",
    "MI300X": "MI300X",
}

# Verda (DataCrunch) appends the instance's total memory to the name: "A100-80GB-320GB" is four A100 80GB.
_TOTAL_MEMORY_SUFFIX = re.compile(r"^(?P<base>.+?\d+GB)-\d+GB$", re.IGNORECASE)
_NVL = re.compile(r"nvl(?!ink)", re.IGNORECASE)
_VERDA_SXM = re.compile(r"\.\d+S\.", re.IGNORECASE)

# Providers whose plain "H100" is documented as one variant (RunPod lists "H100 PCIe", "H100 SXM" and "H100 NVL";
# SkyPilot's RunPod catalog calls the PCIe card "H100" and the SXM one "H100-SXM").
_PROVIDER_H100_DEFAULT = {"runpod": "H100-PCIe"}


def _h100_variant(provider: str, instance_type: str, memory_gb: float | None) -> str | None:
    it = instance_type.lower()
    if "sxm" in it or _VERDA_SXM.search(instance_type):
        return "H100-SXM"
    if "pcie" in it:
        return "H100-PCIe"
    if _NVL.search(instance_type) or (memory_gb is not None and 90 <= memory_gb <= 100):
        return "H100-NVL"
    return _PROVIDER_H100_DEFAULT.get(provider)


@lru_cache(maxsize=4096)
def canonical_gpu(
    raw: str,
    *,
    provider: str = "",
    instance_type: str = "",
    memory_gb: float | None = None,
) -> str:
    """Map a provider's GPU spelling to the canonical model id.

    ``memory_gb`` (per GPU, if the source reports it) and ``instance_type`` disambiguate names that cover several
    GPUs (``V100``: 16 or 32 GB; ``H100``: SXM, PCIe or NVL). Raises :class:`UnknownGpu` when no single model fits.
    """
    name = raw.strip()
    match = _TOTAL_MEMORY_SUFFIX.match(name)
    if match:
        name = match.group("base")
    key = _key(name)
    if key in {"H100", "H100NVLINK", "H10080GB"}:
        variant = _h100_variant(provider, instance_type, memory_gb)
        if variant is None:
            raise UnknownGpu(raw, reason="ambiguous_gpu_variant")
        return variant
    if key == "V100":
        return "V100-32GB" if memory_gb is not None and memory_gb > 24 else "V100-16GB"
    if key == "A100":  # SkyPilot's "A100" is the 40 GB card; Vast uses it for both and reports measured memory
        return "A100-80GB" if memory_gb is not None and memory_gb > 60 else "A100-40GB"
    canonical = _ALIASES.get(key)
    if canonical is None:
        raise UnknownGpu(raw)
    return canonical


def _self_aliases() -> None:
    for canonical in set(_ALIASES.values()):
        _ALIASES.setdefault(_key(canonical), canonical)
    # TEMPORARY (branch i10-specs only): every catalog id names exactly its GPU ("A100-80GB-PCIe" is the PCIe card).
    # The resolver rewritten on i10-names derives this from gpus.json; drop this block when merging it.
    for canonical in bundled_catalog().by_model():
        _ALIASES[_key(canonical)] = canonical


_self_aliases()
