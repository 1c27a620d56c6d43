"""Number formats: the one ``Precision`` vocabulary of every request that names one (workloads, /math KPIs), and the
one rule for which GPU runs which format at what peak, used by the KPI and the workload routes alike.

A field that accepts only part of the vocabulary says so with a subset of these values, never with a vocabulary of
its own: the compute formats (:data:`FLOAT_PRECISIONS`) are checked by the workload models' validators and by the
schema of the KPI fields that need a peak (:data:`FloatPrecision`).

Which GPU runs which format is decided by its architecture (:data:`ARCHITECTURE_FORMATS`); a GPU asked for a format
it lacks is refused with :class:`~gpubroker.domain.errors.PrecisionUnsupported` (422 ``precision_unsupported``),
on every route (:func:`require_precision`, :func:`precision_refused`). The fp8 peak is 2x the dense FP16 tensor
peak on every architecture with FP8 tensor units (:data:`FP8_PER_FP16_DENSE`, sources in :data:`PRECISION_SOURCES`);
the catalog stores one tensor figure per GPU, so a GPU added to it gets its fp8 rate from its architecture.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias, get_args

from gpubroker.domain.errors import PrecisionUnsupported

Precision = Literal["fp32", "fp16", "bf16", "fp8", "int8", "int4"]

_ORDER: tuple[Precision, ...] = get_args(Precision)

# formats that run the arithmetic (int8/int4 are weight-only formats: stored small, computed in fp16)
FLOAT_PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16", "bf16", "fp8")

if TYPE_CHECKING:
    FloatPrecision: TypeAlias = Precision
else:  # a Literal of the subset: the schema's enum and the validation both name exactly these values
    FloatPrecision = Literal[FLOAT_PRECISIONS]

# bytes per parameter (weights) of each format
BYTES_PER_PARAM: dict[Precision, float] = {
    "fp32": 4.0,
    "fp16": 2.0,
    "bf16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 4.25 / 8,  # group-128 fp16 scale + zero: 4.25 bit (AWQ, GPTQ)
}

# formats every GPU runs: fp32 and fp16 natively, int8/int4 as weight-only formats computed in fp16
EVERYWHERE: frozenset[Precision] = frozenset({"fp32", "fp16", "int8", "int4"})
_BF16: frozenset[Precision] = EVERYWHERE | {"bf16"}
_FP8: frozenset[Precision] = _BF16 | {"fp8"}

# the formats each architecture (the catalog's ``architecture`` string) runs natively; an architecture missing
# here runs only EVERYWHERE (a contract test holds every catalog architecture to being listed)
ARCHITECTURE_FORMATS: dict[str, frozenset[Precision]] = {
    # NVIDIA: bf16 from Ampere (sm80/86), FP8 tensor cores from Ada (sm89) and Hopper (sm90)
    "Kepler": EVERYWHERE,
    "Maxwell": EVERYWHERE,
    "Pascal": EVERYWHERE,
    "Volta": EVERYWHERE,
    "Turing": EVERYWHERE,
    "Ampere": _BF16,
    "Ada Lovelace": _FP8,
    "Hopper": _FP8,
    "Blackwell": _FP8,
    "Blackwell Ultra": _FP8,
    # AMD Instinct: bf16 matrix cores from CDNA (MI100), FP8 from CDNA 3 (MI300); Radeon RDNA 3 has bf16 WMMA
    "CDNA": _BF16,
    "CDNA 2": _BF16,
    "CDNA 3": _FP8,
    "CDNA 4": _FP8,
    "GCN 5": EVERYWHERE,
    "RDNA": EVERYWHERE,
    "RDNA 2": EVERYWHERE,
    "RDNA 3": _BF16,
}

# dense FP8 tensor TFLOPS per dense FP16/BF16 tensor TFLOPS, on every architecture with FP8 units
FP8_PER_FP16_DENSE = 2.0

PRECISION_SOURCES: dict[str, str] = {
    "precision_support": "bf16 needs Ampere (sm80+) or AMD CDNA/RDNA 3; fp8 tensor cores need Ada/Hopper (sm89/sm90+), "
    "Blackwell or CDNA 3/4 (NVIDIA CUDA programming guide, compute capabilities; AMD CDNA 3 white paper)",
    "fp8_rate": "FP8 dense tensor throughput = 2 x dense FP16/BF16 on every FP8 architecture: H100 SXM 1,978.9 vs "
    "989.4 TFLOPS (NVIDIA H100 datasheet); L40S 733 vs 362 (L40S datasheet); B200 4.5 vs 2.25 PFLOPS (NVIDIA "
    "Blackwell datasheet); MI300X 2,614.9 vs 1,307.4 (AMD MI300X data sheet); MI355X 5.0 vs 2.5 PFLOPS (AMD "
    "MI350 series data sheet); GeForce Ada/Blackwell at FP32 accumulate, the catalog's convention, likewise 2x",
}


class GpuPeaks(Protocol):
    """What the rule reads of a GPU (``domain.gpus.GpuSpec`` has it)."""

    @property
    def model(self) -> str: ...
    @property
    def architecture(self) -> str: ...
    @property
    def fp16_tensor_tflops(self) -> float: ...
    @property
    def fp32_tflops(self) -> float: ...


def supported_precisions(architecture: str) -> frozenset[Precision]:
    return ARCHITECTURE_FORMATS.get(architecture, EVERYWHERE)


def precision_supported(architecture: str, precision: Precision) -> bool:
    """Whether a GPU of ``architecture`` runs ``precision`` natively."""
    return precision in supported_precisions(architecture)


def compute_path(precision: Precision) -> Literal["fp32", "tensor", "fp8"]:
    """Which peak applies: fp32 -> non-tensor FP32; fp8 -> the FP8 tensor rate; fp16/bf16 and weight-only
    int8/int4 -> the dense FP16/BF16 tensor rate."""
    if precision == "fp32":
        return "fp32"
    if precision == "fp8":
        return "fp8"
    return "tensor"


def fp8_tflops(gpu: GpuPeaks) -> float:
    """Dense FP8 tensor TFLOPS of ``gpu``; 0.0 when its architecture has no FP8 tensor units."""
    return gpu.fp16_tensor_tflops * FP8_PER_FP16_DENSE if precision_supported(gpu.architecture, "fp8") else 0.0


def precision_refused(precision: Precision, gpus: Mapping[str, str]) -> PrecisionUnsupported:
    """The one refusal of a format the ``gpus`` (model -> architecture) lack: 422 ``precision_unsupported``, with
    the formats each of them runs."""
    runs = {m: sorted(supported_precisions(a), key=_ORDER.index) for m, a in gpus.items()}
    named = "; ".join(f"{m} ({a}) runs {', '.join(runs[m])}" for m, a in gpus.items())
    return PrecisionUnsupported(
        f"{precision} is not supported natively: {named}",
        details={"precision": precision, "gpu_models": list(gpus), "supported": runs},
    )


def require_precision(gpu: GpuPeaks, precision: Precision) -> None:
    """Refuse ``precision`` on a GPU whose architecture lacks it."""
    if not precision_supported(gpu.architecture, precision):
        raise precision_refused(precision, {gpu.model: gpu.architecture})


def peak_tflops(gpu: GpuPeaks, precision: Precision) -> float:
    """Peak dense TFLOPS of ``gpu`` for arithmetic in ``precision``; refused where the GPU lacks the format."""
    require_precision(gpu, precision)
    path = compute_path(precision)
    if path == "fp32":
        return gpu.fp32_tflops
    if path == "fp8":
        return fp8_tflops(gpu)
    return gpu.fp16_tensor_tflops
