"""The GPU catalog (verified specs) and the one place that turns a provider's GPU spelling into a canonical model.

Canonical ids are one name per real GPU: ``RTX-A6000`` whatever the spelling (``A6000``, ``RTXA6000``,
``RTX-A6000``); ``H100-SXM``, ``H100-PCIe`` and ``H100-NVL`` are three GPUs. A name we cannot map is reported,
never guessed: :class:`UnknownGpu` carries the raw spelling.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field

from gpubroker.domain.gpu_names import (
    NVL,
    PCIE,
    SXM,
    NameFacts,
    form_class,
    instance_facts,
    memory_type_class,
    parse_name,
)

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
    """The raw GPU name maps to no canonical model (or to several): report it, do not guess.

    ``reason``: ``unknown_gpu`` (no catalog GPU has this name, or the row's facts contradict every variant),
    ``ambiguous_gpu_variant`` (several variants remain after every fact the row carries; ``candidates`` lists them)
    or ``not_a_gpu`` (a TPU, Inferentia, Trainium, Gaudi...: an accelerator that is not a GPU).
    """

    def __init__(self, raw: str, *, reason: str = "unknown_gpu", candidates: tuple[str, ...] = ()) -> None:
        detail = f" ({', '.join(candidates)})" if candidates else ""
        super().__init__(f"{reason}: {raw}{detail}")
        self.raw = raw
        self.reason = reason
        self.candidates = candidates


# A reported per-GPU memory within 10 % of the spec is that GPU (ECC reserves 1/16, GiB vs GB is 7 %); outside it,
# for every variant of the family, the row is a GPU the catalog lacks (a modded 48 GB RTX 4090) or a total figure
# read as per-GPU: reported, never snapped.
MEMORY_TOLERANCE = 0.10


@dataclass(frozen=True, slots=True)
class _Variant:
    model: str
    vendor: str
    memory_gb: float
    form: str | None
    memory_type: str | None
    consumer: bool
    sized: bool  # the id names a memory size (A100-80GB, RTX-4090-48GB); bare ids are the family's standard part


@dataclass(frozen=True, slots=True)
class _Index:
    families: dict[str, tuple[_Variant, ...]]
    ids: dict[str, str]  # casefolded canonical id -> id


def _variant_form(spec: GpuSpec) -> str | None:
    named = parse_name(spec.model).form  # "H100-NVL", "A100-80GB-PCIe"
    if named:
        return named
    ff = spec.form_factor.upper()
    if ff.startswith("SXM"):
        return SXM
    if ff.startswith("PCIE"):
        return PCIE
    return None  # OAM, superchip modules: one form per family


@cache
def _index() -> _Index:
    """Every catalog GPU under its family key (the catalog id read by the same parser as any spelling)."""
    families: dict[str, list[_Variant]] = {}
    for spec in bundled_catalog().gpus:
        variant = _Variant(
            model=spec.model,
            vendor=spec.vendor.upper(),
            memory_gb=spec.memory_gb,
            form=_variant_form(spec),
            memory_type=memory_type_class(spec.memory_type),
            consumer="GEFORCE" in spec.name.upper(),
            sized=bool(parse_name(spec.model).memory_gb),
        )
        families.setdefault(parse_name(spec.model).family, []).append(variant)
    ids = {spec.model.casefold(): spec.model for spec in bundled_catalog().gpus}
    return _Index(families={k: tuple(v) for k, v in families.items()}, ids=ids)


# Family spellings that are another family's name (not derivable from the words): AWS's Graviton T4 ("T4g") is the
# T4 board; Lium's "RTXPRO6000-WK" is the workstation edition; the Max-Q card is named "Max-Q Workstation Edition".
_FAMILY_ALIASES = {
    "T4G": "T4",
    "RTXPRO6000WK": "RTXPRO6000WS",
    "RTXPRO6000MAXQWS": "RTXPRO6000MAXQ",
    "QRTX6000": "RTX6000",  # Vast's "Q RTX 6000" / "Q RTX 8000": the Quadro cards
    "QRTX8000": "RTX8000",
}
_GLUED = re.compile(r"(?:SXM\d?|PCIE|PCI|NVL|\d+GB?|HBM\d?E?)+")
_GLUED_PART = re.compile(r"SXM\d?|PCIE|PCI|NVL|\d+GB?|HBM\d?E?")


def _family(facts: NameFacts) -> tuple[str, NameFacts] | None:
    """The catalog family a name's family words denote, with facts glued to it split off (``H100SXM5``)."""
    families = _index().families
    fam = _FAMILY_ALIASES.get(facts.family, facts.family)
    if fam in families:
        return fam, facts
    # "A6000" is the RTX A6000; "4090" the GeForce RTX 4090 (not "6000": four workstation cards share it)
    rtx = families.get("RTX" + fam)
    if rtx and (fam.startswith("A") or all(v.consumer for v in rtx)):
        return "RTX" + fam, facts
    for cut in range(len(fam) - 1, 0, -1):  # longest family first: "A10080GB" is A100 + 80GB, not A10 + 080GB
        body, tail = fam[:cut], fam[cut:]
        if body in families and _GLUED.fullmatch(tail):
            glued = parse_name(" ".join(_GLUED_PART.findall(tail)))
            return body, NameFacts(
                family=body,
                memory_gb=facts.memory_gb + glued.memory_gb,
                form=facts.form or glued.form,
                memory_type=facts.memory_type or glued.memory_type,
                vendor=facts.vendor,
            )
    return None


def _close(spec_gb: float, reported: float) -> bool:
    return abs(reported - spec_gb) <= MEMORY_TOLERANCE * spec_gb


def _keep(cands: list[_Variant], test: Callable[[_Variant], bool]) -> list[_Variant]:
    """A soft fact: narrows the candidates when some fit it, is ignored when none does."""
    kept = [c for c in cands if test(c)]
    return kept or cands


def _with_form(cands: list[_Variant], form: str, family: tuple[_Variant, ...]) -> list[_Variant] | None:
    """Candidates of a form. PCIe also finds the NVL card when the family has no plain PCIe one (``H200 PCIe``).
    None when the family has that form nowhere but has several forms: the name or instance contradicts the catalog."""
    kept = [c for c in cands if c.form == form]
    if not kept and form == PCIE:
        kept = [c for c in cands if c.form == NVL]
    if kept:
        return kept
    return None if len({v.form for v in family}) > 1 else cands


def _by_name_memory(cands: list[_Variant], sizes: tuple[float, ...]) -> list[_Variant] | None:
    """The first size a name states that fits a variant decides; sizes above every variant are instance totals
    (Verda's ``A100-80GB-320GB``) or superchip totals (``GH200 480GB``) and say nothing. None: a contradiction."""
    for size in sizes:
        kept = [c for c in cands if _close(c.memory_gb, size)]
        if kept:
            return kept
    if all(size > max(c.memory_gb for c in cands) * (1 + MEMORY_TOLERANCE) for size in sizes):
        return cands
    return None


# Documented naming of a cloud for a family it lists without a form word (also applied to what a reseller such as
# Shadeform resells from that cloud: ``hyperstack_H100x4``).
# - RunPod: its GPU types are "H100 PCIe", "H100 SXM", "H100 NVL", "A100 PCIe", "A100 SXM"; SkyPilot's RunPod
#   catalog names the PCIe ones "H100" and "A100-80GB" and the SXM ones "H100-SXM" and "A100-80GB-SXM"
#   (https://docs.runpod.io/references/gpu-types: "NVIDIA A100 80GB PCIe" / "NVIDIA A100-SXM4-80GB",
#   "NVIDIA H100 PCIe" / "NVIDIA H100 80GB HBM3").
# - Verda (DataCrunch) rents A100, H100 and H200 as SXM boards only (https://verda.com/products).
# - Hyperstack: its own catalog names the GPU of every H100/A100 flavour without "SXM5" "H100-80G-PCIe" /
#   "A100-80G-PCIe" (tests/fixtures/skypilot_v8/hyperstack).
# - Cudo: its own catalog lists A100s only as "a100-pcie"/"a100-pci" instances and H100s only as "H100-SXM"
#   (tests/fixtures/skypilot_v8/cudo).
# - Scaleway: H100-1-80G / H100-2-80G are "H100 PCIe"; the SXM ones are named H100-SXM-*
#   (https://www.scaleway.com/en/docs/gpu/reference-content/choosing-gpu-instance-type/).
# - GCP: its V100s are NVLink-connected SXM2 boards ("NVIDIA V100 ... NVLink ring, 300 GB/s" in the GPU table of
#   https://cloud.google.com/compute/docs/gpus); its P100 and T4 have no NVLink (PCIe cards).
# - Lium: SkyPilot's fetcher maps "H100 PCIe" -> "H100", "H100 80GB HBM3" -> "H100-SXM", "A100 80GB PCIe" ->
#   "A100-80GB", "A100-SXM4-80GB" -> "A100-80GB-SXM" (skypilot sky/provision/lium/lium_utils.py GPU_NAME_MAP).
# Catalogs documented to name an NVL card without "NVL": SkyPilot's Lium fetcher maps both "H200" and "H200 NVL"
# to "H200" (same GPU_NAME_MAP).
_NVL_UNNAMED = frozenset({("lium", "H200")})
_PROVIDER_FORM: dict[tuple[str, str], str] = {
    ("gcp", "V100"): SXM,
    ("lium", "H100"): PCIE,
    ("lium", "A100"): PCIE,
    ("runpod", "H100"): PCIE,
    ("runpod", "A100"): PCIE,
    ("verda", "A100"): SXM,
    ("verda", "H100"): SXM,
    ("verda", "H200"): SXM,
    ("hyperstack", "H100"): PCIE,
    ("hyperstack", "A100"): PCIE,
    ("cudo", "A100"): PCIE,
    ("cudo", "H100"): SXM,
    ("scaleway", "H100"): PCIE,
}


def _narrow_by_row(
    cands: list[_Variant],
    family: str,
    *,
    provider: str,
    instance_type: str,
    memory_gb: float | None,
    memory_type: str | None,
    vendor: str | None,
    form_factor: str | None,
    named_memory: bool,
    named_form: bool,
) -> list[_Variant] | None:
    variants = _index().families[family]
    if vendor:
        cands = _keep(cands, lambda c: c.vendor == vendor.upper())
    if memory_type:
        wanted = memory_type_class(memory_type)
        cands = _keep(cands, lambda c: c.memory_type == wanted)
    if memory_gb is not None:
        cands = [c for c in cands if _close(c.memory_gb, memory_gb)]
        if not cands:
            return None
    hint = instance_facts(provider, instance_type) if instance_type else None
    for form in (form_class(form_factor or ""), hint.form if hint else None):
        if form:
            formed = _with_form(cands, form, variants)
            if formed is None:
                return None
            cands = formed
    sized_by_fact = memory_gb is not None or named_memory
    if hint and hint.memory_gb and not sized_by_fact:
        hinted = hint.memory_gb
        before = len(cands)
        cands = _keep(cands, lambda c: _close(c.memory_gb, hinted))
        sized_by_fact = len(cands) < before
    if len(cands) > 1 and not sized_by_fact:
        # An id without a size next to sized ones (RTX-4090 vs RTX-4090-48GB, GH200 vs GH200-144GB) is the
        # family's standard part: the other needs a memory fact.
        cands = _keep(cands, lambda c: not c.sized)
    default = _PROVIDER_FORM.get((hint.host if hint and hint.host else provider, family))
    if default and len(cands) > 1:
        cands = _keep(cands, lambda c: c.form == default)
    where = hint.host if hint and hint.host else provider
    if len(cands) > 1 and not named_form and (where, family) not in _NVL_UNNAMED:
        # An NVL card is named so (NVIDIA's product names, NVML's "NVIDIA H200 NVL", SkyPilot's separate "H100-NVL"
        # and "NVIDIA-H200-NVL" accelerators): a name without NVL whose facts do not point to it is not it.
        cands = _keep(cands, lambda c: c.form != NVL)
    return cands


@lru_cache(maxsize=16384)
def canonical_gpu(
    raw: str,
    *,
    provider: str = "",
    instance_type: str = "",
    memory_gb: float | None = None,
    memory_type: str | None = None,
    vendor: str | None = None,
    form_factor: str | None = None,
) -> str:
    """Map a GPU name, with the facts its row carries, to one canonical model id.

    The name is parsed into family, memory, form factor and memory type (:mod:`gpubroker.domain.gpu_names`); the
    family's catalog variants are narrowed by the name's facts, then the row's: ``vendor``, ``memory_type``,
    ``memory_gb`` (per GPU, as reported; a figure more than 10 % off every variant is a contradiction),
    ``form_factor`` (``SXM4``, ``PCIe``, ``NVL``: a source's interconnect field), the instance type (``p4de``,
    ``gpu_1x_a100_sxm4``, ``BM.GPU.H100.8``), the provider's documented naming and the naming conventions of the
    catalog (an NVL card is named NVL; a bare id is its family's standard part). Raises :class:`UnknownGpu`
    (``unknown_gpu``, ``ambiguous_gpu_variant`` or ``not_a_gpu``) when no single model fits. With no row context
    (no provider, no instance type) a canonical id spelled exactly is itself.
    """
    if not provider and not instance_type:
        exact = _index().ids.get(raw.strip().casefold())
        if exact is not None and memory_gb is None:
            return exact
    facts = parse_name(raw)
    if facts.not_a_gpu:
        raise UnknownGpu(raw, reason="not_a_gpu")
    family, named, cands = _name_candidates(raw, facts)
    narrowed = _narrow_by_row(
        cands,
        family,
        provider=provider,
        instance_type=instance_type,
        memory_gb=memory_gb,
        memory_type=memory_type,
        vendor=vendor,
        named_memory=bool(named.memory_gb),
        named_form=named.form is not None or form_class(form_factor or "") is not None,
        form_factor=form_factor,
    )
    if narrowed is None:
        raise UnknownGpu(raw)
    models = sorted({c.model for c in narrowed})
    if len(models) == 1:
        return models[0]
    raise UnknownGpu(raw, reason="ambiguous_gpu_variant", candidates=tuple(models))


def _name_candidates(raw: str, facts: NameFacts) -> tuple[str, NameFacts, list[_Variant]]:
    """The family a name denotes, its facts, and the variants its own words allow (memory, form, memory type,
    vendor). Raises :class:`UnknownGpu` for a name of no family or one its words contradict."""
    found = _family(facts)
    if found is None:
        raise UnknownGpu(raw)
    family, facts = found
    variants = _index().families[family]
    cands: list[_Variant] | None = list(variants)
    if facts.memory_gb:
        cands = _by_name_memory(list(variants), facts.memory_gb)
    if cands is not None and facts.form:
        cands = _with_form(cands, facts.form, variants)
    if cands is None:
        raise UnknownGpu(raw)
    if facts.memory_type:
        wanted = facts.memory_type
        cands = _keep(cands, lambda c: c.memory_type == wanted)
    if facts.vendor:
        vendor = facts.vendor.upper()
        cands = _keep(cands, lambda c: c.vendor == vendor)
    return family, facts, cands


@lru_cache(maxsize=4096)
def gpu_models_for(text: str) -> tuple[str, ...]:
    """Every canonical model a user's spelling denotes, sorted: a canonical id (any case) is itself; a family
    spelling is all its variants that fit the words given (``H100`` -> H100-NVL, H100-PCIe, H100-SXM;
    ``A100 80GB`` -> A100-80GB, A100-80GB-PCIe; ``H100 SXM`` -> H100-SXM). Raises :class:`UnknownGpu`
    (``unknown_gpu`` or ``not_a_gpu``)."""
    exact = _index().ids.get(text.strip().casefold())
    if exact is not None:
        return (exact,)
    facts = parse_name(text)
    if facts.not_a_gpu:
        raise UnknownGpu(text, reason="not_a_gpu")
    return tuple(sorted({c.model for c in _name_candidates(text, facts)[2]}))


def descriptive_name(model: str) -> str:
    """A spelling of a canonical model that states every fact telling it from its family's other variants
    (``A100-80GB`` -> ``A100-80GB 80GB SXM HBM2E``): the raw name of an offer rebuilt from its model
    (``offers.to_raw``) resolves back to the same model from any provider and instance type."""
    for variants in _index().families.values():
        for v in variants:
            if v.model == model:
                words = [model, f"{v.memory_gb:g}GB", v.form or "", v.memory_type or ""]
                return " ".join(w for w in words if w)
    return model
