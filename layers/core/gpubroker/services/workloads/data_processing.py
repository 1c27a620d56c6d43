"""Data processing: the dataset in 1 GB partitions, one per GPU at a time; each operation a roofline of host I/O
against HBM bandwidth (ETL, dedupe) or compute (embedding, dedupe)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

from gpubroker.domain.precision import BYTES_PER_PARAM
from gpubroker.domain.workloads import (
    BYTES_PER_TOKEN,
    DATA_PARTITION_GB,
    DATA_WORKING_SET_FACTOR,
    DEDUPE_BYTES_PER_BYTE,
    DEDUPE_COMPUTE_EFFICIENCY,
    DEDUPE_OPS_PER_BYTE,
    EMBEDDING_ACTIVATION_GB,
    EMBEDDING_MFU,
    ETL_BANDWIDTH_EFFICIENCY,
    ETL_BYTES_PER_BYTE,
    HOST_IO_GBPS,
)
from gpubroker.services.workloads.common import (
    GpuColumns,
    PlannedWorkload,
    bottlenecks_at,
    per_second,
    replicated_plan,
    requirement,
)
from gpumath import workload as kernels

if TYPE_CHECKING:
    from gpubroker.domain.workloads import Bottleneck, DataProcessing
    from gpumath.arrays import F64, I8


class _PartitionJob(NamedTuple):
    """One partition's work over every GPU: its time, the binding resource and what it holds and moves."""

    seconds: F64
    bottlenecks: list[Bottleneck]
    blocked: I8
    breakdown: dict[str, float]  # GB per GPU
    flops: float  # whole dataset
    bytes_moved: float  # whole dataset
    sources: tuple[str, ...]
    tokens_per_s: F64 | None = None


def plan(request: DataProcessing, gpus: GpuColumns) -> PlannedWorkload:
    jobs = max(1, math.ceil(request.dataset_gb / DATA_PARTITION_GB))
    partition_gb = min(request.dataset_gb, DATA_PARTITION_GB)
    if request.operation == "etl":
        job = _etl(request, gpus, partition_gb)
    elif request.operation == "embedding":
        job = _embedding(request, gpus, partition_gb, jobs)
    else:
        job = _dedupe(request, gpus, partition_gb)
    kernel_plan = replicated_plan(
        gpus,
        request,
        per_gpu_gb=sum(job.breakdown.values()),
        seconds_per_job=job.seconds,
        jobs=jobs,
        blocked=job.blocked,
    )
    needs = requirement(
        request,
        parallelism="replicated",
        breakdown=job.breakdown,
        flops=job.flops,
        bytes_moved=job.bytes_moved,
        jobs=jobs,
        assumptions=[
            f"{request.operation} over {request.dataset_gb:g} GB in {jobs} partition(s) of {partition_gb:g} GB, "
            "one per GPU at a time",
            f"host-to-GPU transfer at {HOST_IO_GBPS:g} GB/s per GPU; object storage not counted",
        ],
        sources=(*job.sources, "usable_memory_fraction"),
    )
    return PlannedWorkload(
        requirement=needs,
        plan=kernel_plan,
        bottlenecks=job.bottlenecks,
        tokens_per_s=job.tokens_per_s,
        metrics={"gb_per_hour_per_gpu": per_second(partition_gb, job.seconds) * 3600.0},
    )


def _host_rate(gpus: GpuColumns) -> F64:
    """Bytes per second each GPU reads from the host."""
    return gpus.constant(HOST_IO_GBPS * 1e9)


def _working_set(partition_gb: float) -> dict[str, float]:
    return {"partition_working_set": partition_gb * DATA_WORKING_SET_FACTOR}


def _etl(request: DataProcessing, gpus: GpuColumns, partition_gb: float) -> _PartitionJob:
    partition_bytes = partition_gb * 1e9
    seconds, bound = kernels.roofline_seconds(
        [partition_bytes, partition_bytes * ETL_BYTES_PER_BYTE],
        [_host_rate(gpus), gpus.bandwidth_gbps * 1e9 * ETL_BANDWIDTH_EFFICIENCY],
    )
    return _PartitionJob(
        seconds=seconds,
        bottlenecks=bottlenecks_at(("host_io", "memory_bandwidth"), bound),
        blocked=gpus.nothing_blocked(),
        breakdown=_working_set(partition_gb),
        flops=0.0,
        bytes_moved=request.dataset_gb * 1e9 * ETL_BYTES_PER_BYTE,
        sources=("etl", "host_io"),
    )


def _embedding(request: DataProcessing, gpus: GpuColumns, partition_gb: float, jobs: int) -> _PartitionJob:
    partition_bytes = partition_gb * 1e9
    tokens = partition_bytes / BYTES_PER_TOKEN
    flops = 2.0 * request.model_params_b * 1e9 * tokens
    seconds, bound = kernels.roofline_seconds(
        [partition_bytes, flops], [_host_rate(gpus), gpus.tflops(request.precision) * 1e12 * EMBEDDING_MFU]
    )
    weights_gb = request.model_params_b * BYTES_PER_PARAM[request.precision]
    return _PartitionJob(
        seconds=seconds,
        bottlenecks=bottlenecks_at(("host_io", "compute"), bound),
        blocked=gpus.precision_blocked(request.precision),
        breakdown={"weights": weights_gb, "activations": EMBEDDING_ACTIVATION_GB},
        flops=flops * jobs,
        bytes_moved=request.dataset_gb * 1e9,
        sources=("embedding", "host_io", "bytes_per_param", "precision_support"),
        tokens_per_s=per_second(tokens, seconds),
    )


def _dedupe(request: DataProcessing, gpus: GpuColumns, partition_gb: float) -> _PartitionJob:
    partition_bytes = partition_gb * 1e9
    seconds, bound = kernels.roofline_seconds(
        [partition_bytes, partition_bytes * DEDUPE_BYTES_PER_BYTE, partition_bytes * DEDUPE_OPS_PER_BYTE],
        [
            _host_rate(gpus),
            gpus.bandwidth_gbps * 1e9 * ETL_BANDWIDTH_EFFICIENCY,
            gpus.fp32_tflops * 1e12 * DEDUPE_COMPUTE_EFFICIENCY,
        ],
    )
    return _PartitionJob(
        seconds=seconds,
        bottlenecks=bottlenecks_at(("host_io", "memory_bandwidth", "compute"), bound),
        blocked=gpus.nothing_blocked(),
        breakdown=_working_set(partition_gb),
        flops=request.dataset_gb * 1e9 * DEDUPE_OPS_PER_BYTE,
        bytes_moved=request.dataset_gb * 1e9 * DEDUPE_BYTES_PER_BYTE,
        sources=("dedupe", "host_io"),
    )
