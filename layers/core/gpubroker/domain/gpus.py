"""The GPU catalog (verified specs) and the one place that turns a provider's GPU spelling into a canonical model.

Canonical ids are one name per real GPU: ``RTX-A6000`` whatever the spelling (``A6000``, ``RTXA6000``,
``RTX-A6000``); ``H100-SXM``, ``H100-PCIe`` and ``H100-NVL`` are three GPUs. A name we cannot map is reported,
never guessed: :class:`UnknownGpu` carries the raw spelling.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field

from gpubroker.domain.gpu_names import (
    NVL,
    PCIE,
    SXM,
    InstanceFacts,
    NameFacts,
    edition_class,
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
    variants: tuple[str, ...] = Field(
        default=(),
        description="a board-unstated model (form_factor 'unstated'): the catalog ids it may be; each figure is the "
        "lowest of theirs. Empty for a specific board.",
    )

    @property
    def board_unstated(self) -> bool:
        """A model whose board the provider does not state (``H100-80GB-Any``): one of :attr:`variants`."""
        return bool(self.variants)


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
    or ``not_a_gpu`` (a TPU, Inferentia, Trainium, Gaudi...: an accelerator that is not a GPU). ``conflicting``:
    the ambiguity comes from facts that contradict each other (Spheron's "H100_NVL" at 80 GB), not from a fact the
    row leaves out; such a row is never a board-unstated model.
    """

    def __init__(
        self, raw: str, *, reason: str = "unknown_gpu", candidates: tuple[str, ...] = (), conflicting: bool = False
    ) -> None:
        detail = f" ({', '.join(candidates)})" if candidates else ""
        super().__init__(f"{reason}: {raw}{detail}")
        self.raw = raw
        self.reason = reason
        self.candidates = candidates
        self.conflicting = conflicting  # the row's facts point at different variants (not merely leave one out)


# A reported per-GPU memory within 10 % of the spec is that GPU (ECC reserves 1/16, GiB vs GB is 7 %); outside it,
# for every variant of the family, the row is a GPU the catalog lacks or a total figure read as per-GPU: reported,
# never snapped.
MEMORY_TOLERANCE = 0.10


@dataclass(frozen=True, slots=True)
class _Variant:
    model: str
    vendor: str
    memory_gb: float
    form: str | None
    memory_type: str | None
    edition: str | None  # RTX PRO 6000: SERVER, WS, MAXQ
    consumer: bool  # GeForce: "4090" alone means the GeForce card
    superchip: bool  # GH200, GB200: names carry the CPU's memory too ("GH200 480GB")
    modified: bool  # a board modification (RTX 4090 48GB): never the answer without a memory fact


@dataclass(frozen=True, slots=True)
class _Index:
    families: dict[str, tuple[_Variant, ...]]
    ids: dict[str, str]  # casefolded canonical id -> id
    unstated: dict[frozenset[str], str]  # members -> board-unstated id ("H100-80GB-Any"); never a family variant


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
    unstated: dict[frozenset[str], str] = {}
    known = {spec.model for spec in bundled_catalog().gpus}
    for spec in bundled_catalog().gpus:
        if spec.board_unstated:
            members = frozenset(spec.variants)
            if len(members) < 2 or not members <= known or members in unstated:
                raise ValueError(f"{spec.model}: variants must be two or more catalog ids, one -Any entry per set")
            unstated[members] = spec.model
            continue
        name = spec.name.upper()
        variant = _Variant(
            model=spec.model,
            vendor=spec.vendor.upper(),
            memory_gb=spec.memory_gb,
            form=_variant_form(spec),
            memory_type=memory_type_class(spec.memory_type),
            edition=edition_class(spec.model) or edition_class(spec.name),
            consumer="GEFORCE" in name,
            superchip=spec.form_factor.upper().startswith("SUPERCHIP"),
            modified="MODIFICATION" in name,
        )
        families.setdefault(parse_name(spec.model).family, []).append(variant)
    ids = {spec.model.casefold(): spec.model for spec in bundled_catalog().gpus}
    if any(bundled_catalog().by_model()[m].board_unstated for members in unstated for m in members):
        raise ValueError("a board-unstated model's variants are specific boards")
    return _Index(families={k: tuple(v) for k, v in families.items()}, ids=ids, unstated=unstated)


def board_unstated_model(candidates: tuple[str, ...]) -> str | None:
    """The board-unstated model (``H100-80GB-Any``) whose variants include every candidate of an ambiguous name, the
    one with the fewest variants; None when no such entry exists. Only for candidates read consistently from a row
    (an ambiguity, not a contradiction: see :attr:`UnknownGpu.conflicting`)."""
    wanted = set(candidates)
    fitting = [(len(m), model) for m, model in _index().unstated.items() if len(wanted) > 1 and wanted <= m]
    return min(fitting)[1] if fitting else None


# Family spellings that are another family's name (not derivable from the words), each with the facts it implies.
_FAMILY_ALIASES: dict[str, tuple[str, str | None]] = {
    "T4G": ("T4", None),  # AWS g5g: the T4 board behind a Graviton host
    "QRTX6000": ("QUADRORTX6000", None),  # Vast's "Q RTX 6000" / "Q RTX 8000": the Quadro cards
    "QRTX8000": ("QUADRORTX8000", None),
    "PG500216": ("V100", PCIE),  # NVML "Tesla PG500-216": an OEM V100 PCIe board (10de:1df0)
}
# Spellings that name several families: "RTX 6000" is the Quadro RTX 6000 (24 GB) or the RTX 6000 Ada (48 GB).
_FAMILY_UNIONS: dict[str, tuple[str, ...]] = {"RTX6000": ("QUADRORTX6000", "RTX6000ADA")}
_GLUED = re.compile(r"(?:SXM\d?|PCIE|PCI|NVL|\d+GB?|HBM\d?E?|WS|WK|MAXQ|SERVER)+")
_GLUED_PART = re.compile(r"SXM\d?|PCIE|PCI|NVL|\d+GB?|HBM\d?E?|WS|WK|MAXQ|SERVER")


def _family(facts: NameFacts) -> tuple[str, NameFacts] | None:
    """The catalog family a name's family words denote, with facts glued to it split off (``H100SXM5``)."""
    families = _index().families
    fam = facts.family
    alias = _FAMILY_ALIASES.get(fam)
    if alias is not None:
        fam = alias[0]
        facts = replace(facts, family=fam, form=facts.form or alias[1])
    if fam in families:
        return fam, facts
    # "A6000" is the RTX A6000; "4090" the GeForce RTX 4090 (not "6000": four workstation cards share it);
    # "V620" the Radeon Pro V620
    rtx = families.get("RTX" + fam)
    if rtx and (fam.startswith("A") or all(v.consumer for v in rtx)):
        return "RTX" + fam, facts
    if fam.startswith("V") and "PRO" + fam in families:
        return "PRO" + fam, facts
    if "QUADRO" + fam in families:  # "P4000", "M4000", "RTX 8000": the Quadro cards
        return "QUADRO" + fam, facts
    for cut in range(len(fam) - 1, 0, -1):  # longest family first: "A10080GB" is A100 + 80GB, not A10 + 080GB
        body, tail = fam[:cut], fam[cut:]
        if body in families and _GLUED.fullmatch(tail):
            glued = parse_name(" ".join(_GLUED_PART.findall(tail)))
            return body, replace(
                facts,
                family=body,
                memory_gb=facts.memory_gb + glued.memory_gb,
                form=facts.form or glued.form,
                memory_type=facts.memory_type or glued.memory_type,
                edition=facts.edition or glued.edition,
            )
    return None


def _alternatives(facts: NameFacts) -> tuple[NameFacts, ...]:
    """The names a spelling stands for: its "/" alternatives, the families a shared spelling names ("RTX 6000"),
    two family names run together (Ray's "AMD-Instinct-MI250X-MI250"), or the lettered members of a family named
    without its letter ("MI300": MI300X, MI300A)."""
    if facts.alternatives:
        return facts.alternatives
    union = _FAMILY_UNIONS.get(facts.family)
    if union:
        return tuple(replace(facts, family=f) for f in union)
    if _family(facts) is None:
        families = _index().families
        fam = facts.family
        pairs = [(fam[:cut], fam[cut:]) for cut in range(2, len(fam) - 1)]
        joined = next(((a, b) for a, b in pairs if a in families and b in families), None)
        lettered = [f for f in families if len(f) == len(fam) + 1 and f.startswith(fam) and f[-1].isalpha()]
        named = list(joined) if joined else lettered if fam[-1:].isdigit() else []
        if named:
            return tuple(replace(facts, family=f) for f in named)
    return (facts,)


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


def _with_edition(cands: list[_Variant], edition: str, family: tuple[_Variant, ...]) -> list[_Variant] | None:
    kept = [c for c in cands if c.edition == edition]
    if kept:
        return kept
    return None if len({v.edition for v in family}) > 1 else cands


def _by_name_memory(cands: list[_Variant], sizes: tuple[float, ...]) -> list[_Variant] | None:
    """The first size a name states that fits a variant decides; sizes above every variant are instance totals
    (Verda's ``A100-80GB-320GB``) and say nothing; a superchip's name states CPU and GPU memory together
    (``GH200 480GB``, ``GH200 120GB``) and says nothing either. None: a contradiction."""
    if all(c.superchip for c in cands):
        return cands
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
#   "NVIDIA H100 PCIe" / "NVIDIA H100 80GB HBM3"; SkyPilot's v8 RunPod GpuInfo names "A100 PCIe", "H100 PCIe").
# - Lium: SkyPilot's fetcher maps "H100 PCIe" -> "H100", "H100 80GB HBM3" -> "H100-SXM", "A100 80GB PCIe" ->
#   "A100-80GB", "A100-SXM4-80GB" -> "A100-80GB-SXM" (skypilot sky/provision/lium/lium_utils.py GPU_NAME_MAP).
# - Hyperstack: its own catalog names the GPU of every H100/A100 flavour without "SXM5" "H100-80G-PCIe" /
#   "A100-80G-PCIe" (tests/fixtures/skypilot_v8/hyperstack).
# - Verda (DataCrunch) rents the A100 only as SXM4 (its instance descriptions: "A100 SXM4 40GB", "A100 SXM4 80GB").
# - GCP: its V100s are NVLink-connected SXM2 boards ("NVIDIA V100 ... NVLink ring, 300 GB/s" in the GPU table of
#   https://cloud.google.com/compute/docs/gpus); its A100s (a2, NVSwitch) and H100s (a3) are HGX SXM boards; its
#   P100 and T4 are PCIe cards. GCP's catalog prices GPUs in rows of their own, without the machine type.
# - JarvisLabs: its pricing page (https://jarvislabs.ai/pricing) lists "NVIDIA H100 SXM" (80 GB VRAM, 200 GB RAM,
#   16 vCPU per GPU) and "NVIDIA H200 SXM" (141 GB, 300 GB RAM, 28 vCPU per GPU) and no PCIe or NVL H100/H200
#   (as transcribed verbatim on 2026-09-20 in api-evangelist/jarvislabs plans/jarvislabs-plans-pricing.yml@2aa5c44;
#   the same repo's plans file names the SKU ``gpu_h100_sxm``, "H100 SXM (80GB)"). The H200 shape matches SkyPilot's
#   ``1x_H200_28V_300G``; its API's server_meta names them "H100"/"H200" only (gpuhunt fixture).
_PROVIDER_FORM: dict[tuple[str, str], str] = {
    ("runpod", "H100"): PCIE,
    ("runpod", "A100"): PCIE,
    ("lium", "H100"): PCIE,
    ("lium", "A100"): PCIE,
    ("hyperstack", "H100"): PCIE,
    ("hyperstack", "A100"): PCIE,
    ("gcp", "V100"): SXM,
    ("gcp", "A100"): SXM,
    ("gcp", "H100"): SXM,
    ("gcp", "H200"): SXM,
    ("verda", "A100"): SXM,
    ("jarvislabs", "H100"): SXM,
    ("jarvislabs", "H200"): SXM,
}
# Editions a cloud documents for a card it names without one: GCP's G4 and OCI's BM.GPU.RTXPRO carry the RTX PRO
# 6000 Blackwell Server Edition (https://cloud.google.com/compute/docs/gpus, OCI compute shapes); SkyPilot's Lium
# fetcher maps "RTX PRO 6000 Blackwell Server Edition" to "RTXPRO6000" (and the Workstation Edition apart).
_PROVIDER_EDITION: dict[tuple[str, str], str] = {
    ("gcp", "RTXPRO6000"): "SERVER",
    ("oci", "RTXPRO6000"): "SERVER",
    ("lium", "RTXPRO6000"): "SERVER",
}
# GCP's SKU names state no memory where one size is the only one it rents: "Nvidia Tesla A100 GPU" is the 40 GB card
# (the 80 GB one is "Nvidia A100 80GB GPU"), its P100 and V100 are 16 GB.
_PROVIDER_MEMORY: dict[tuple[str, str], float] = {("gcp", "A100"): 40.0, ("gcp", "P100"): 16.0, ("gcp", "V100"): 16.0}
# Sources that name an NVL card apart, so that their name without NVL is not it: NVIDIA's product names and NVML
# (a name spelled with the vendor: "NVIDIA H200"), RunPod ("NVIDIA-H200-NVL", GpuInfo "H100 NVL") and Vast
# (SkyPilot keeps "NVL" in the instance type). Elsewhere a plain H200 may be either board (SkyPilot's Lium fetcher
# maps "H200 NVL" to "H200").
_NAMES_NVL_APART = frozenset({"runpod", "vast"})


@dataclass(frozen=True, slots=True)
class _Row:
    provider: str
    instance_type: str
    memory_gb: float | None
    memory_type: str | None
    vendor: str | None
    form_factor: str | None


def _narrow_by_row(cands: list[_Variant], family: str, named: NameFacts, row: _Row) -> list[_Variant] | None:
    """The row's own facts: vendor, memory type, memory (a contradiction is None), stated and instance form."""
    variants = _index().families[family]
    if row.vendor:
        vendor = row.vendor.upper()
        cands = _keep(cands, lambda c: c.vendor == vendor)
    if row.memory_type:
        wanted = memory_type_class(row.memory_type)
        cands = _keep(cands, lambda c: c.memory_type == wanted)
    if row.memory_gb is not None:
        reported = row.memory_gb
        cands = [c for c in cands if _close(c.memory_gb, reported)]
        if not cands:
            return None
    hint = instance_facts(row.provider, row.instance_type) if row.instance_type else None
    for form in (form_class(row.form_factor or ""), hint.form if hint else None):
        if form:
            formed = _with_form(cands, form, variants)
            if formed is None:
                return None
            cands = formed
    return _by_convention(cands, family, named, row, hint)


def _by_convention(
    cands: list[_Variant], family: str, named: NameFacts, row: _Row, hint: InstanceFacts | None
) -> list[_Variant]:
    """What the row's source documents for names that leave a fact out: its instance family's memory, its
    naming of form factors and editions, NVL cards named apart, board modifications named by their memory."""
    where = hint.host if hint and hint.host else row.provider
    sized = row.memory_gb is not None or bool(named.memory_gb)
    default_gb = hint.memory_gb if hint and hint.memory_gb else _PROVIDER_MEMORY.get((where, family))
    if default_gb and not sized:
        before = len(cands)
        cands = _keep(cands, lambda c: _close(c.memory_gb, default_gb))
        sized = len(cands) < before
    default_form = _PROVIDER_FORM.get((where, family))
    if default_form and len(cands) > 1:
        cands = _keep(cands, lambda c: c.form == default_form)
    default_edition = (hint.edition if hint else None) or _PROVIDER_EDITION.get((where, family))
    if default_edition and len(cands) > 1 and not named.edition:
        cands = _keep(cands, lambda c: c.edition == default_edition)
    named_form = named.form is not None or form_class(row.form_factor or "") is not None
    if len(cands) > 1 and not named_form and (where in _NAMES_NVL_APART or named.vendor == "NVIDIA"):
        # an NVL card is named so there (NVIDIA's product names and NVML: "NVIDIA H200 NVL"; RunPod; Vast)
        cands = _keep(cands, lambda c: c.form != NVL)
    if len(cands) > 1 and not sized:
        cands = _keep(cands, lambda c: not c.modified)  # "RTX 4090" is the 24 GB product, not the 48 GB mod
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

    The name is parsed into family, memory, form factor, memory type and edition
    (:mod:`gpubroker.domain.gpu_names`); the family's catalog variants are narrowed by the name's facts, then the
    row's: ``vendor``, ``memory_type``, ``memory_gb`` (per GPU, as reported; a figure more than 10 % off every
    variant is a contradiction), ``form_factor`` (``SXM4``, ``PCIe``, ``NVL``: a source's interconnect field), the
    instance type (``p4de``, ``gpu_1x_a100_sxm4``, ``BM.GPU.H100.8``), the provider's documented naming and the
    naming conventions of the sources (an NVL card is named NVL by NVIDIA, RunPod and Vast; a board modification
    is never the answer without a memory fact). Raises :class:`UnknownGpu` (``unknown_gpu``,
    ``ambiguous_gpu_variant`` or ``not_a_gpu``) when no single model fits. With no row context (no provider, no
    instance type) a canonical id spelled exactly is itself.
    """
    exact_id = _index().ids.get(raw.strip().casefold())
    if exact_id is not None and bundled_catalog().by_model()[exact_id].board_unstated:
        return exact_id  # no provider spells "H100-80GB-Any": it is our own id (``offers.to_raw``)
    if not provider and not instance_type:
        exact = _index().ids.get(raw.strip().casefold())
        if exact is not None and memory_gb is None:
            return exact
    row = _Row(provider, instance_type, memory_gb, memory_type, vendor, form_factor)
    facts = parse_name(raw)
    if facts.not_a_gpu:
        raise UnknownGpu(raw, reason="not_a_gpu")
    models: set[str] = set()
    conflicting = False  # the name and the row's memory point at different variants: never one answer
    alternatives = _alternatives(facts)
    for alternative in alternatives:
        try:
            family, named, cands = _name_candidates(raw, alternative, row)
        except UnknownGpu:
            if len(alternatives) == 1:
                raise
            continue
        narrowed = _narrow_by_row(cands, family, named, row)
        if narrowed is None:
            # the name's words and the row's memory point at different variants of one family (Spheron's "H100_NVL"
            # at 80 GB): both are candidates; a memory no variant has is a GPU the catalog lacks
            fitting = [v for v in _index().families[family] if row.memory_gb and _close(v.memory_gb, row.memory_gb)]
            if fitting:
                models.update(c.model for c in cands + fitting)
                conflicting = True
            continue
        models.update(c.model for c in narrowed)
    if len(models) == 1 and not conflicting:
        return models.pop()
    if not models:
        raise UnknownGpu(raw)
    raise UnknownGpu(raw, reason="ambiguous_gpu_variant", candidates=tuple(sorted(models)), conflicting=conflicting)


def _name_candidates(raw: str, facts: NameFacts, row: _Row | None = None) -> tuple[str, NameFacts, list[_Variant]]:
    """The family a name denotes, its facts, and the variants its own words allow (memory, form, edition, memory
    type, vendor). A name of no family takes the family its instance type documents (Azure's price list names a
    series, "NCads A100 v4", whose size ``Standard_NC24ads_A100_v4`` is an A100 80GB PCIe). Raises
    :class:`UnknownGpu` for a name of no family or one its words contradict."""
    found = _family(facts)
    if found is None and row is not None and row.instance_type:
        hinted = instance_facts(row.provider, row.instance_type).family
        if hinted in _index().families:
            found = hinted, replace(facts, family=hinted)
    if found is None:
        raise UnknownGpu(raw)
    family, facts = found
    variants = _index().families[family]
    cands: list[_Variant] | None = list(variants)
    if facts.memory_gb:
        cands = _by_name_memory(list(variants), facts.memory_gb)
    if cands is not None and facts.form:
        cands = _with_form(cands, facts.form, variants)
    if cands is not None and facts.edition:
        cands = _with_edition(cands, facts.edition, variants)
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
    spelling is all its variants that fit the words given, and each board-unstated model all of whose variants are
    among them (``H100`` -> H100-80GB-Any, H100-NVL, H100-PCIe, H100-SXM; ``A100 80GB`` -> A100-80GB,
    A100-80GB-Any, A100-80GB-PCIe; ``H100 SXM`` -> H100-SXM). Raises :class:`UnknownGpu` (``unknown_gpu`` or
    ``not_a_gpu``)."""
    exact = _index().ids.get(text.strip().casefold())
    if exact is not None:
        return (exact,)
    facts = parse_name(text)
    if facts.not_a_gpu:
        raise UnknownGpu(text, reason="not_a_gpu")
    models: set[str] = set()
    alternatives = _alternatives(facts)
    for alternative in alternatives:
        try:
            models.update(c.model for c in _name_candidates(text, alternative)[2])
        except UnknownGpu:
            if len(alternatives) == 1:
                raise
    if not models:
        raise UnknownGpu(text)
    # a board-unstated model is one of these when every board it may be is: "H100" includes H100-80GB-Any, "H100 SXM"
    # does not (that offer may be the PCIe card)
    models.update(model for members, model in _index().unstated.items() if members <= models)
    return tuple(sorted(models))


def descriptive_name(model: str) -> str:
    """A spelling of a canonical model that states every fact telling it from its family's other variants
    (``A100-80GB`` -> ``A100-80GB 80GB SXM HBM2E``): the raw name of an offer rebuilt from its model
    (``offers.to_raw``) resolves back to the same model from any provider and instance type."""
    for variants in _index().families.values():
        for v in variants:
            if v.model == model:
                words = [model, f"{v.memory_gb:g}GB", v.form or "", v.memory_type or "", _EDITION_WORDS[v.edition]]
                return " ".join(w for w in words if w)
    return model


_EDITION_WORDS = {None: "", "SERVER": "Server Edition", "WS": "Workstation Edition", "MAXQ": "Max-Q"}
