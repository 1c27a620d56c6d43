"""Reading a GPU name the way the world writes it: a tokenising parser, not an alias table.

A name is split into tokens and each token is classified: vendor and brand noise (``NVIDIA``, ``Tesla``,
``GeForce``, ``Quadro``, ``AMD Instinct``, architecture words), a memory size (``80GB``, ``80G``, ``80 GB``), a form
factor (``SXM``..``SXM6``, ``PCIe``, ``NVL``), a memory type (``HBM3``, ``HBM2e``, ``GDDR6X``) or part of the
family (``A100``, ``RTX 6000 Ada``, ``RTX 4080 SUPER``). The family is what is left, joined without separators:
``NVIDIA RTX 6000 Ada Generation``, ``RTX6000-Ada`` and ``rtx_6000_ada`` are all family ``RTX6000ADA``.

Canonical ids (``H100-PCIe``, ``A100-80GB``) go through the same parser, so a catalog entry and every spelling of
it meet on one key. Which variant of a family a name means (memory, form factor, memory type) is decided in
:mod:`gpubroker.domain.gpus` from these facts and the row's other facts; this module only reads.

Instance types carry facts too (``p4de`` is an A100 80GB SXM4, ``gpu_1x_h100_sxm5`` says SXM):
:func:`instance_facts` reads them, from generic words and from a short table of cloud instance families whose
GPU is documented by the cloud (sources next to each entry; docs/decisions.md, "GPU names").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# Form-factor classes. A name's form word and a catalog entry's ``form_factor`` are both reduced to one of these.
SXM = "SXM"
PCIE = "PCIE"
NVL = "NVL"

_VENDORS = {"NVIDIA": "NVIDIA", "AMD": "AMD", "INTEL": "Intel"}
# Words that never tell GPUs apart: brands, product-line words, architecture names, packaging words.
_NOISE = frozenset(
    {
        "TESLA",
        "GEFORCE",
        "INSTINCT",
        "RADEON",
        "GRAPHICS",
        "GPU",
        "GPUS",
        "CARD",
        "ACCELERATOR",
        "TENSOR",
        "CORE",
        "GENERATION",
        "GEN",
        "EDITION",
        "LOVELACE",
        "AMPERE",
        "HOPPER",
        "BLACKWELL",
        "VOLTA",
        "TURING",
        "PASCAL",
        "GRACE",
        "SUPERCHIP",
        "NVLINK",  # an interconnect, not a form factor: SXM boards and bridged PCIe pairs both have it
        "HGX",
        "DGX",
        "VF",  # a virtual function of the card (Azure's "MI300X VF")
        "MXGPU",
        "OAM",  # AMD's module form; every AMD entry is one form per family
        "X16",
        "PLUS",  # GCP's "Nvidia H100 80GB Plus GPU" SKU
        "VIRTUAL",
        "MACHINES",
        # packaging and plan words of marketplaces ("H100_PCIE_BAREMETAL", "A6000_PCIE_LOW_RAM")
        "BAREMETAL",
        "BARE",
        "METAL",
        "LOW",
        "HIGH",
        "RAM",
        "PERF",
        "PERFORMANCE",
        "SPOT",
    }
)
# Editions of one card that differ in specs (RTX PRO 6000 Server / Workstation / Max-Q): named, or not known.
_EDITIONS = {"SERVER": "SERVER", "WORKSTATION": "WS", "WS": "WS", "WK": "WS", "MAXQ": "MAXQ"}
# Accelerators that are not GPUs: counted as ``not_a_gpu``, never as unknown GPUs.
_NOT_GPU = re.compile(
    r"TPU|INFERENTIA|TRAINIUM|GAUDI|HABANA|HL-?205|QUALCOMM|\bAI ?100\b|FPGA|XILINX|VIRTEX|\bVU\d+P\b|\bU30\b|"
    r"NEURON|TENSTORRENT|WORMHOLE|GROQ|CEREBRAS|SAMBANOVA|ASCEND|"
    # bare Cloud TPU versions and slices (GKE labels, GCP's TPU API) and Tenstorrent boards
    r"^V[2-6](E|P|LITEPOD)?(-\d+)?$|^[NP](150|300)[A-Z]?$",
)
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)(?:GB|G|GIB|GI)")
_MEMORY_UNIT = frozenset({"GB", "G", "GIB", "GI"})
_FORM = re.compile(r"SXM\d?|PCIE\d?|PCI|NVL")
_RACK = re.compile(r"NVL\d+")  # GB200 NVL72: a rack of superchips, not the NVL form factor
_COUNT = re.compile(r"\d+X")  # "1x A100 SXM4 40GB", "H100 GPU - 8X": how many, not which
_MEMORY_TYPE = re.compile(r"HBM\d?E?|GDDR\d+X?|LPDDR\d+X?")
_SPLIT = re.compile(r"[^A-Z0-9.]+")


@dataclass(frozen=True, slots=True)
class NameFacts:
    """What a GPU name says. ``memory_gb`` lists every memory figure in the order written (a name may carry the
    per-GPU size and the instance total: Verda's ``A100-80GB-320GB``); ``family`` is ``""`` for an empty name;
    ``alternatives`` holds the facts of each name of a shared name (ROCm's ``AMD Instinct MI250X/MI250``)."""

    family: str
    memory_gb: tuple[float, ...] = ()
    form: str | None = None
    memory_type: str | None = None
    vendor: str | None = None
    edition: str | None = None
    not_a_gpu: bool = False
    alternatives: tuple[NameFacts, ...] = ()


def form_class(word: str) -> str | None:
    """``SXM5`` -> SXM, ``PCIe`` -> PCIE, ``NVL`` -> NVL (form-factor words of names and instance types)."""
    w = word.upper()
    if w.startswith("SXM"):
        return SXM
    if w.startswith("PCI"):
        return PCIE
    if w == "NVL":
        return NVL
    return None


def memory_type_class(word: str | None) -> str | None:
    """``HBM2e`` -> ``HBM2E``; blanks -> None."""
    if not word or not word.strip():
        return None
    return re.sub(r"[^A-Z0-9]", "", word.upper()) or None


def edition_class(words: str) -> str | None:
    """The edition a card's name states: ``MAXQ``, ``WS`` (Workstation) or ``SERVER``; None when it states none."""
    tokens = set(_tokens(words.upper().replace("MAX-Q", "MAXQ").replace("MAX Q", "MAXQ")))
    for word in ("MAXQ", "WORKSTATION", "WS", "WK", "SERVER"):
        if word in tokens:
            return _EDITIONS[word]
    return None


def _tokens(upper: str) -> list[str]:
    out: list[str] = []
    for chunk in _SPLIT.split(upper):
        if not chunk:
            continue
        # keep "A100", "80GB", "SXM4", "RTX4090" whole; a dot only inside a number ("1.5GB")
        for part in chunk.split(".") if not re.fullmatch(r"\d+\.\d+[A-Z]*", chunk) else [chunk]:
            if part:
                out.append(part)
    return out


_TRUNCATABLE = ("GENERATION", "EDITION", "WORKSTATION", "BLACKWELL", "SERVER")


def _classify(tok: str, nxt: str) -> tuple[str, object]:
    """One token's kind and value: ("vendor", "NVIDIA"), ("memory", 80.0), ("memory+unit", 80.0) when the next
    token is its unit, ("form", SXM), ("memory_type", "HBM3"), ("edition", "WS"), ("noise", None) or
    ("family", token)."""
    memory = _MEMORY.fullmatch(tok)
    kind: str
    value: object = None
    if tok in _VENDORS:
        kind, value = "vendor", _VENDORS[tok]
    elif tok in _NOISE or _RACK.fullmatch(tok) or _COUNT.fullmatch(tok):
        kind = "noise"
    elif tok in _EDITIONS:
        kind, value = "edition", _EDITIONS[tok]
    elif memory:
        kind, value = "memory", float(memory.group(1))
    elif tok.replace(".", "").isdigit() and nxt in _MEMORY_UNIT:
        kind, value = "memory+unit", float(tok)
    elif _FORM.fullmatch(tok):
        kind, value = "form", form_class(tok)
    elif tok == "MEGA":  # GCP's "H100 Mega": the SXM H100 of a3-megagpu (more NICs, same GPU)
        kind, value = "form", SXM
    elif _MEMORY_TYPE.fullmatch(tok):
        kind, value = "memory_type", tok
    else:
        kind, value = "family", tok
    return kind, value


@lru_cache(maxsize=8192)
def parse_name(raw: str) -> NameFacts:
    """Classify the tokens of one GPU name (pure, cached)."""
    upper = raw.upper().replace("MAX-Q", "MAXQ").replace("MAX Q", "MAXQ").strip()
    if _NOT_GPU.search(upper):
        return NameFacts(family="", not_a_gpu=True)
    if "/" in upper:  # one name for several GPUs ("AMD Instinct MI250X/MI250"): each side is an alternative
        sides = tuple(parse_name(side) for side in raw.split("/") if side.strip())
        if len(sides) > 1 and all(side.family for side in sides):
            return NameFacts(family=sides[0].family, alternatives=sides)
    tokens = _tokens(upper)
    if upper.endswith("...") and tokens and any(w.startswith(tokens[-1]) for w in _TRUNCATABLE):
        tokens = tokens[:-1]  # nvidia-smi cuts long names: "NVIDIA RTX 6000 Ada Gene..."
    family: list[str] = []
    memory: list[float] = []
    first: dict[str, object] = {}  # the first vendor, form, memory type and edition a name states
    skip_next = False
    for i, tok in enumerate(tokens):
        if skip_next:
            skip_next = False
            continue
        kind, value = _classify(tok, tokens[i + 1] if i + 1 < len(tokens) else "")
        if kind == "family":
            family.append(tok)
        elif kind.startswith("memory") and kind != "memory_type":
            memory.append(float(value))  # type: ignore[arg-type]
            skip_next = kind == "memory+unit"
        elif kind != "noise":
            first.setdefault(kind, value)
    return NameFacts(
        family="".join(family),
        memory_gb=tuple(memory),
        form=first.get("form"),  # type: ignore[arg-type]
        memory_type=first.get("memory_type"),  # type: ignore[arg-type]
        vendor=first.get("vendor"),  # type: ignore[arg-type]
        edition=first.get("edition"),  # type: ignore[arg-type]
    )


# ---- facts an instance type carries -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstanceFacts:
    """What an instance name says about its GPU: a form-factor class, a per-GPU memory size, the GPU family when a
    documented instance family names it (Azure's ``ND96isr_H100_v5``), and for a reseller the cloud that runs the
    instance (Shadeform's ``hyperstack_H100x4`` runs at Hyperstack); any may be None."""

    form: str | None = None
    memory_gb: float | None = None
    host: str | None = None
    family: str | None = None
    edition: str | None = None


# Marketplaces whose instance types name the cloud that runs them: Shadeform ``<cloud>_<type>``, Prime Intellect
# ``<cloud>__<shape>``; and the names those clouds go by there.
_RESELLERS = {"shadeform": "_", "primeintellect": "__"}
_HOST_NAMES = {"lambdalabs": "lambda", "datacrunch": "verda", "crusoecloud": "crusoe"}


def host_of(provider: str, instance_type: str) -> str | None:
    """The cloud a reseller's instance runs at (``hyperstack`` for Shadeform's ``hyperstack_H100x4``), else None."""
    sep = _RESELLERS.get(provider)
    if sep is None or sep not in instance_type:
        return None
    host = instance_type.split(sep, 1)[0].lower()
    return _HOST_NAMES.get(host, host)


# Cloud instance families whose GPU the cloud documents. Matched against the instance type (case-blind) of the named
# provider only; the first match wins. Each entry: (provider, pattern, form class, per-GPU GB, GPU family).
_FAMILIES: tuple[tuple[str, re.Pattern[str], str | None, float | None, str | None], ...] = tuple(
    (provider, re.compile(pattern, re.IGNORECASE), form, memory, family)
    for provider, pattern, form, memory, family in (
        # AWS: https://aws.amazon.com/ec2/instance-types/p4/ (p4d: A100 40 GB, p4de: A100 80 GB, HGX A100 SXM4 with
        # NVSwitch); https://aws.amazon.com/ec2/instance-types/p3/ (V100 SXM2 with NVLink; p3dn 32 GB);
        # https://aws.amazon.com/ec2/instance-types/p5/ (H100/H200 SXM, p5en); p6-b200 (HGX B200)
        ("aws", r"^p4de\.", SXM, 80.0, "A100"),
        ("aws", r"^p4d\.", SXM, 40.0, "A100"),
        ("aws", r"^p3dn\.", SXM, 32.0, "V100"),
        ("aws", r"^p3\.", SXM, 16.0, "V100"),
        ("aws", r"^p5e?n?\.", SXM, None, None),
        ("aws", r"^p6-b", SXM, None, None),
        # GCP: https://cloud.google.com/compute/docs/gpus#a100-gpus (a2-highgpu/a2-megagpu: A100 40GB,
        # a2-ultragpu: A100 80GB; both HGX SXM4 with NVLink), https://cloud.google.com/compute/docs/gpus#h100-gpus
        # (a3: H100 SXM 80GB)
        ("gcp", r"^a2-ultragpu", SXM, 80.0, "A100"),
        ("gcp", r"^a2-(high|mega)gpu", SXM, 40.0, "A100"),
        ("gcp", r"^a3-", SXM, None, None),
        ("gcp", r"^a4-", SXM, None, None),
        # Azure: https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/ (ND A100 v4: 40 GB SXM4;
        # NDm A100 v4: 80 GB SXM4; NC A100 v4: 80 GB PCIe; NCsv3: V100 16 GB PCIe; NDv2: V100 32 GB SXM2;
        # NC H100 v5 and NCC H100 v5: H100 NVL 94 GB; ND H100 v5 / ND H200 v5: SXM; ND GB200 v6; NGads V620).
        # Both spellings: the ARM size ("Standard_ND96amsr_A100_v4") and the price list's ("ND96amsA100v4").
        ("azure", r"^(Standard_)?ND\d+as?r_?(A100_?)?v4(?!\d)|^NDasrA100v4", SXM, 40.0, "A100"),
        ("azure", r"^(Standard_)?ND\d+amsr?_?A100_?v4|^NDamsrA100v4", SXM, 80.0, "A100"),
        ("azure", r"^(Standard_)?NC\d+ads_?A100_?v4", PCIE, 80.0, "A100"),
        ("azure", r"^(Standard_)?NC\d+r?s_v3", PCIE, 16.0, "V100"),
        ("azure", r"^(Standard_)?ND\d+rs_v2", SXM, 32.0, "V100"),
        ("azure", r"^(Standard_)?NCC?\d+adi?s_?H100_?v5", NVL, 94.0, "H100"),
        ("azure", r"^(Standard_)?ND\d+is\w*H100_?v5", SXM, 80.0, "H100"),
        ("azure", r"^(Standard_)?ND\d+is\w*H200_?v5", SXM, 141.0, "H200"),
        ("azure", r"^(Standard_)?ND\d+is\w*GB200_?v6", None, None, "GB200"),
        ("azure", r"^(Standard_)?NG\d+ads_?V620", None, None, "PROV620"),
        # OCI: https://docs.oracle.com/iaas/Content/Compute/References/computeshapes.htm (BM.GPU4.8: A100 40 GB SXM4;
        # BM.GPU.A100-v2.8: A100 80 GB SXM4; BM.GPU.H100.8 / H200.8: HGX SXM; GPU3: V100 16 GB SXM2;
        # GPU2: P100 16 GB PCIe)
        ("oci", r"^BM\.GPU4\.8", SXM, 40.0, "A100"),
        ("oci", r"^BM\.GPU\.A100-v2", SXM, 80.0, "A100"),
        ("oci", r"^BM\.GPU\.H[12]00\.", SXM, None, None),
        ("oci", r"^(BM|VM)\.GPU3\.", SXM, 16.0, "V100"),
        ("oci", r"^(BM|VM)\.GPU2\.", PCIE, 16.0, "P100"),
        # Lambda (API descriptions): gpu_{1,2,4}x_a100 are "A100 (40 GB PCIe)", gpu_8x_a100 "A100 (40 GB SXM4)";
        # its one H100 type without "sxm5" is gpu_1x_h100_pcie. Shadeform resells them as lambdalabs_A100x8 and
        # lambdalabs_H100 (next to lambdalabs_A100-sxm4 and lambdalabs_H100-sxm5x{1,2,4,8}).
        ("lambda", r"^gpu_[124]x_a100(_pcie)?$", PCIE, 40.0, "A100"),
        ("lambda", r"^gpu_8x_a100$", SXM, 40.0, "A100"),
        ("shadeform", r"^lambdalabs_A100x8$", SXM, 40.0, "A100"),
        ("shadeform", r"^lambdalabs_H100$", PCIE, 80.0, "H100"),
    )
)
# Instance families whose card edition the source documents (RTX PRO 6000 Server / Workstation / Max-Q). Each entry:
# (provider, pattern, edition).
_EDITION_FAMILIES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (provider, re.compile(pattern, re.IGNORECASE), edition)
    for provider, pattern, edition in (
        # SkyPilot's v8 RunPod catalog (tests/fixtures/skypilot_v8/runpod, skypilot-catalog@46062ac) writes RunPod's
        # gpuTypes displayName into GpuInfo and names the Workstation Edition apart ("RTX PRO 6000 WK",
        # ``<n>x_RTXPRO6000-WK_SECURE``). In that naming RunPod's displayName "RTX PRO 6000" is the id
        # "NVIDIA RTX PRO 6000 Blackwell Server Edition" ("RTX PRO 6000 WK" = "... Workstation Edition",
        # "RTX PRO 6000 MaxQ" = "... Max-Q Workstation Edition"): RunPod ``runpod.get_gpus()`` listing of 2026-01-29
        # quoted in a public train_in_runpod.py README. Older RunPod answers (Jumbo2020/gpu_prices@5a5fa6c) used the
        # bare displayName for the Workstation Edition, so the fact holds for these instance types only, not for a
        # bare "RTX PRO 6000" from RunPod.
        ("runpod", r"^\d+x_RTXPRO6000_(SECURE|COMMUNITY)$", "SERVER"),
    )
)
_VERDA_MEMORY_FORM = re.compile(r"\.(\d+)S\.", re.IGNORECASE)  # Verda "1H100.80S.30V": 80 GB, SXM
_INSTANCE_FORM = re.compile(r"sxm|pcie?|nvl(?!ink|\d)", re.IGNORECASE)
_INSTANCE_MEMORY = re.compile(r"(?<![0-9])(\d{2,3})(?:gb|gib|g)(?![a-wyz0-9])", re.IGNORECASE)


@lru_cache(maxsize=8192)
def instance_facts(provider: str, instance_type: str) -> InstanceFacts:
    """Form factor and per-GPU memory an instance name states (``gpu_8x_a100_80gb_sxm4``: SXM, 80 GB)."""
    host = host_of(provider, instance_type)
    edition = next((e for prov, pat, e in _EDITION_FAMILIES if prov == provider and pat.search(instance_type)), None)
    if edition:
        return InstanceFacts(host=host, edition=edition)
    for prov, pattern, family_form, family_memory, gpu_family in _FAMILIES:
        if prov == provider and pattern.search(instance_type):
            return InstanceFacts(form=family_form, memory_gb=family_memory, host=host, family=gpu_family)
    form: str | None = None
    memory: float | None = None
    verda = _VERDA_MEMORY_FORM.search(instance_type) if "verda" in (provider, host) else None
    if verda:
        form, memory = SXM, float(verda.group(1))
    else:
        words = _INSTANCE_FORM.findall(instance_type)
        classes = {form_class(w) for w in words} - {None}
        form = classes.pop() if len(classes) == 1 else None
        sizes = {float(m) for m in _INSTANCE_MEMORY.findall(instance_type)}
        memory = sizes.pop() if len(sizes) == 1 else None
    return InstanceFacts(form=form, memory_gb=memory, host=host)
