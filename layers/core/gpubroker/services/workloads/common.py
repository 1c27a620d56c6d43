"""What the per-type workload modules share: the GPU models as spec columns, the per-GPU codes the modules add to
the kernels' own, the answer every module gives (:class:`PlannedWorkload`), and the calls every module makes the
same way (the requirement, the sharded and the replicated kernel plans).

Imports NumPy (through gpumath): only the math functions import this package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from gpubroker.domain.precision import compute_path, fp8_tflops, precision_supported
from gpubroker.domain.types import rounded
from gpubroker.domain.workloads import (
    GIB_PER_LABEL_GB,
    SOURCES,
    USABLE_MEMORY_FRACTION,
    Uncertainty,
    WorkloadRequirement,
)
from gpumath import workload as kernels
from gpumath.arrays import F64, I8

if TYPE_CHECKING:
    from gpubroker.domain.gpus import GpuSpec
    from gpubroker.domain.precision import Precision
    from gpubroker.domain.workloads import (
        Bottleneck,
        DataProcessing,
        ImageGeneration,
        LlmInference,
        Parallelism,
        Reason,
        Training,
        VideoProcessing,
        WorkloadRequest,
    )


# per-GPU codes the modules pass to the kernels as ``blocked`` (the kernels' own codes are 0..5)
PRECISION_UNSUPPORTED, CODEC_UNSUPPORTED, NO_HARDWARE_ENCODER = 16, 17, 18
UNSUPPORTED_CODES = (PRECISION_UNSUPPORTED, CODEC_UNSUPPORTED, NO_HARDWARE_ENCODER)
MEMORY_CODES = (kernels.INSUFFICIENT_MEMORY_AT_MAX, kernels.INSUFFICIENT_MEMORY_AT_COUNT)
REASON_BY_CODE: dict[int, Reason] = {
    kernels.INSUFFICIENT_MEMORY_AT_MAX: "insufficient_memory_even_at_max_gpus",
    kernels.EXCEEDS_MAX_GPUS: "exceeds_max_gpus",
    kernels.INSUFFICIENT_MEMORY_AT_COUNT: "insufficient_memory_at_gpu_count",
    kernels.TARGET_NOT_MET: "target_not_met",
    PRECISION_UNSUPPORTED: "precision_unsupported",
    CODEC_UNSUPPORTED: "codec_unsupported",
    NO_HARDWARE_ENCODER: "no_hardware_encoder",
}


@dataclass(frozen=True)
class GpuColumns:
    """The GPU models under evaluation as columns of their specs, one entry per model (g,), in catalog order."""

    models: list[str]
    architectures: list[str]
    memory_gb: F64
    bandwidth_gbps: F64
    tensor_tflops: F64
    fp32_tflops: F64
    fp8_tflops: F64  # 0 where the architecture has no FP8 tensor units (domain.precision.fp8_tflops)
    memory_share: float = USABLE_MEMORY_FRACTION  # the engine's share of each GPU's memory

    @classmethod
    def of(cls, specs: Sequence[GpuSpec]) -> GpuColumns:
        return cls(
            models=[s.model for s in specs],
            architectures=[s.architecture for s in specs],
            memory_gb=np.array([s.memory_gb for s in specs], dtype=np.float64),
            bandwidth_gbps=np.array([s.memory_bandwidth_gbps for s in specs], dtype=np.float64),
            tensor_tflops=np.array([s.fp16_tensor_tflops for s in specs], dtype=np.float64),
            fp32_tflops=np.array([s.fp32_tflops for s in specs], dtype=np.float64),
            fp8_tflops=np.array([fp8_tflops(s) for s in specs], dtype=np.float64),
        )

    @property
    def count(self) -> int:
        return len(self.models)

    @property
    def usable_gb(self) -> F64:
        """What a workload may use of each GPU, GB (the datasheet figure is GiB; the engine's share of it)."""
        out: F64 = self.memory_gb * (GIB_PER_LABEL_GB * self.memory_share)
        return out

    def tflops(self, precision: Precision) -> F64:
        """The peak that applies to ``precision`` (dense tensor, the FP8 tensor rate, or non-tensor fp32)."""
        return kernels.effective_tflops(self.tensor_tflops, self.fp32_tflops, self.fp8_tflops, compute_path(precision))

    def precision_blocked(self, precision: Precision) -> I8:
        ok = np.array([precision_supported(a, precision) for a in self.architectures], dtype=np.bool_)
        out: I8 = np.where(ok, 0, PRECISION_UNSUPPORTED).astype(np.int8)
        return out

    def nothing_blocked(self) -> I8:
        return np.zeros(self.count, dtype=np.int8)

    def constant(self, value: float) -> F64:
        """The same value for every GPU (a per-GPU metric that does not depend on the GPU)."""
        return np.full(self.count, value)


@dataclass(frozen=True)
class PlannedWorkload:
    """One workload sized and planned over every GPU column: what each per-type module answers with."""

    requirement: WorkloadRequirement
    plan: kernels.Plan
    bottlenecks: list[Bottleneck]  # per GPU, when feasible (or limited by time)
    tokens_per_s: F64 | None = None
    metrics: dict[str, F64] = field(default_factory=dict)  # per GPU; a plan reports the finite ones
    # priced metric -> (the metric the plan's cost is divided by, per how many): a plan with a cost reports it
    unit_costs: dict[str, tuple[str, float]] = field(default_factory=dict)
    scaling_beta: float | None = None  # sharded over n GPUs at speedup n^beta: each plan states its efficiency
    notes: list[str] | None = None  # per GPU: a sentence a feasible plan states (its layout), or ""


def requirement(
    request: WorkloadRequest,
    *,
    parallelism: Parallelism,
    breakdown: dict[str, float],
    flops: float,
    bytes_moved: float,
    jobs: int,
    assumptions: list[str],
    sources: Sequence[str],
) -> WorkloadRequirement:
    """What the workload needs, independent of the GPU; ``sources`` are keys of :data:`SOURCES`."""
    return WorkloadRequirement(
        type=request.type,
        parallelism=parallelism,
        memory_required_gb=rounded(sum(breakdown.values()), 6),
        memory_breakdown_gb={key: rounded(v, 6) for key, v in breakdown.items()},
        total_flops=flops,
        bytes_moved=bytes_moved,
        jobs=jobs,
        assumptions=assumptions,
        sources={key: SOURCES[key] for key in (*sources, "uncertainty")},
        uncertainty=Uncertainty.of(request.type),
    )


def sharded_plan(
    gpus: GpuColumns,
    request: LlmInference | Training | VideoProcessing,
    *,
    sharded_gb: float,
    seconds_1: F64,
    beta: float,
    constraint_1: F64,
    limit: float | None,
    replicated_gb: float = 0.0,
) -> kernels.Plan:
    """One job split over n GPUs (see :func:`gpumath.workload.plan_sharded`); GPUs without the request's
    precision are blocked."""
    return kernels.plan_sharded(
        gpus.usable_gb,
        sharded_gb=sharded_gb,
        replicated_gb=replicated_gb,
        seconds_1=seconds_1,
        beta=beta,
        max_gpus=request.max_gpus,
        gpu_count=request.gpu_count,
        constraint_1=constraint_1,
        limit=limit,
        blocked=gpus.precision_blocked(request.precision),
    )


def replicated_plan(
    gpus: GpuColumns,
    request: ImageGeneration | VideoProcessing | DataProcessing,
    *,
    per_gpu_gb: float,
    seconds_per_job: F64,
    jobs: int,
    blocked: I8,
) -> kernels.Plan:
    """Independent jobs over n GPUs, each holding the whole working set, by the request's deadline (see
    :func:`gpumath.workload.plan_replicated`)."""
    return kernels.plan_replicated(
        gpus.usable_gb,
        per_gpu_gb=per_gpu_gb,
        seconds_per_job=seconds_per_job,
        jobs=jobs,
        max_gpus=request.max_gpus,
        gpu_count=request.gpu_count,
        deadline_s=deadline_s(request.deadline_hours),
        blocked=blocked,
    )


def deadline_s(deadline_hours: float | None) -> float | None:
    return None if deadline_hours is None else deadline_hours * 3600.0


def bottlenecks_at(names: Sequence[Bottleneck], index: NDArray[np.int64]) -> list[Bottleneck]:
    """Per GPU, the name of the binding term of a roofline (``index`` from the kernel)."""
    return [names[int(j)] for j in index]


def per_second(amount: float | F64, seconds: F64) -> F64:
    """``amount / seconds`` per GPU, infinite where the time is zero."""
    with np.errstate(divide="ignore"):
        out: F64 = np.where(seconds > 0, amount / seconds, np.inf)
    return out
