"""Workload -> per-GPU plans, vectorised over g GPU models (columns ``(g,)``); no loop over GPUs.

Two parallel shapes cover every workload:

- **sharded** (one job split over n GPUs: tensor/sequence parallel, FSDP). Memory per GPU
  ``sharded_gb / n + replicated_gb``; time ``seconds_1 / n**beta`` with ``0 < beta <= 1`` (efficiency
  ``n**(beta-1) <= 1``, and time is non-increasing in n by construction). Counts are 1, 2, 4, 8, then multiples of 8
  (tensor parallelism divides the attention heads; nodes hold 8 GPUs).
- **replicated** (independent jobs: images, frames, partitions). Each GPU holds the whole working set; time
  ``ceil(jobs / n) * seconds_per_job`` (the wave quantisation is the only inefficiency; non-increasing in n).

Units: GB (1e9 B), GB/s, TFLOPS (dense), seconds. Reason codes are small ints (``OK`` ... ``TARGET_NOT_MET``); the
caller maps them to names, and may pass per-GPU ``blocked`` codes (precision or hardware unsupported) of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gpumath.arrays import F64, I8, I64

OK = 0  # caller-supplied ``blocked`` codes must be >= 16
INSUFFICIENT_MEMORY_AT_MAX = 2
EXCEEDS_MAX_GPUS = 3
INSUFFICIENT_MEMORY_AT_COUNT = 4
TARGET_NOT_MET = 5

_EPS = 1e-9


@dataclass(frozen=True)
class Plan:
    """Per GPU model (g,): ``gpus`` 0 = infeasible; ``seconds`` inf where infeasible; ``memory_per_gpu_gb`` at
    ``evaluated_gpus`` (the count chosen, or the largest count tried when infeasible); ``reason`` a code."""

    gpus: I64
    evaluated_gpus: I64
    seconds: F64
    memory_per_gpu_gb: F64
    reason: I8

    @property
    def feasible(self) -> NDArray[np.bool_]:
        out: NDArray[np.bool_] = self.gpus > 0
        return out


def _f64(x: F64 | float, g: int) -> F64:
    return np.broadcast_to(np.asarray(x, dtype=np.float64), (g,)).astype(np.float64)


def valid_gpu_count(n: F64) -> F64:
    """Smallest valid count >= n (1, 2, 4, 8, 16, 24, ...); inf stays inf; anything <= 1 is 1."""
    n = np.maximum(np.asarray(n, dtype=np.float64), 1.0)
    with np.errstate(invalid="ignore", over="ignore"):
        small = np.exp2(np.ceil(np.log2(np.minimum(n, 8.0)) - _EPS))
        big = np.ceil(n / 8.0 - _EPS) * 8.0
    out: F64 = np.where(n <= 8.0, small, big)
    return out


def largest_valid_count(m: int) -> int:
    """Largest valid count <= m (m >= 1)."""
    if m >= 8:
        return (m // 8) * 8
    return 1 << (m.bit_length() - 1)


def speedup(n: F64 | I64, beta: float) -> F64:
    """n**beta: monotone increasing, sub-linear for beta < 1; 0 GPUs -> 0."""
    out: F64 = np.power(np.asarray(n, dtype=np.float64), beta)
    return out


def effective_tflops(tensor_tflops: F64, fp32_tflops: F64, fp8_tflops: F64, path: str) -> F64:
    """Peak TFLOPS (g,) for a compute path: ``fp32`` (non-tensor), ``tensor`` (dense FP16/BF16) or ``fp8`` (the dense
    FP8 tensor rate; 0 where a GPU has none, which makes its compute terms infinite)."""
    chosen = {"fp32": fp32_tflops, "fp8": fp8_tflops}.get(path, tensor_tflops)
    out: F64 = np.asarray(chosen, dtype=np.float64)
    return out


def roofline_seconds(amounts: Sequence[float], rates: Sequence[F64]) -> tuple[F64, I64]:
    """Time of work bounded by several resources: ``max_k amounts[k] / rates[k]`` per GPU.

    ``amounts`` in units of the resource (FLOP, bytes), ``rates`` (g,) in units per second. A rate <= 0 or NaN
    means the resource is missing: that term is inf. Returns (seconds (g,), index of the binding resource (g,)).
    """
    if not amounts:
        raise ValueError("roofline_seconds needs at least one resource")
    stacked = np.stack([np.asarray(r, dtype=np.float64) for r in rates])  # (k, g)
    work = np.asarray(amounts, dtype=np.float64)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(stacked > 0, work / np.where(stacked > 0, stacked, 1.0), np.inf)
    terms = np.where(work > 0, terms, 0.0)
    bound: I64 = np.argmax(terms, axis=0).astype(np.int64)
    seconds: F64 = np.max(terms, axis=0)
    return seconds, bound


def plan_sharded(
    usable_gb: F64,
    *,
    sharded_gb: float,
    replicated_gb: F64 | float,
    seconds_1: F64,
    beta: float,
    max_gpus: int,
    gpu_count: int | None = None,
    constraint_1: F64 | None = None,
    limit: float | None = None,
    blocked: I8 | None = None,
) -> Plan:
    """One job split over n GPUs.

    ``seconds_1`` (g,) is the job time on one GPU ignoring memory; ``constraint_1`` (g,) a time-like quantity at one
    GPU that must scale to <= ``limit`` (a decode step for a tokens/s target, or the job for a deadline).
    Without ``gpu_count``: n = smallest valid count that fits and meets the constraint, infeasible beyond
    ``max_gpus``. With it: n = gpu_count, infeasible when it does not fit or misses the constraint.
    """
    usable = np.asarray(usable_gb, dtype=np.float64)
    g = usable.shape[0]
    rep = _f64(replicated_gb, g)
    s1 = np.asarray(seconds_1, dtype=np.float64)
    block = np.zeros(g, dtype=np.int8) if blocked is None else np.asarray(blocked, dtype=np.int8)
    free = usable - rep
    with np.errstate(divide="ignore", invalid="ignore"):
        n_mem = np.where(free > 0, sharded_gb / np.where(free > 0, free, 1.0), np.inf)
    n_mem = np.maximum(n_mem, 1.0)
    n_target = np.ones(g, dtype=np.float64)
    if constraint_1 is not None and limit is not None:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            n_target = np.maximum(np.power(np.asarray(constraint_1, dtype=np.float64) / limit, 1.0 / beta), 1.0)
        n_target = np.where(np.isnan(n_target), np.inf, n_target)
    s1_ok = np.isfinite(s1)

    if gpu_count is None:
        cap = float(largest_valid_count(max_gpus))
        mem_n = valid_gpu_count(n_mem)
        n = valid_gpu_count(np.maximum(n_mem, n_target))
        mem_ok = mem_n <= cap
        ok = (n <= cap) & s1_ok
        reason = np.where(mem_ok, np.where(ok, OK, EXCEEDS_MAX_GPUS), INSUFFICIENT_MEMORY_AT_MAX)
        evaluated = np.where(ok, n, cap)
    else:
        count = float(gpu_count)
        mem_ok = n_mem <= count * (1.0 + _EPS)
        with np.errstate(invalid="ignore"):
            met = n_target <= count * (1.0 + _EPS)
        ok = mem_ok & met & s1_ok
        reason = np.where(mem_ok, np.where(ok, OK, TARGET_NOT_MET), INSUFFICIENT_MEMORY_AT_COUNT)
        evaluated = np.full(g, count)
    reason = np.where(block != OK, block, reason).astype(np.int8)
    feasible = reason == OK
    gpus = np.where(feasible, evaluated, 0.0).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        seconds = np.where(feasible, s1 / speedup(np.maximum(evaluated, 1.0), beta), np.inf)
    per_gpu = sharded_gb / np.maximum(evaluated, 1.0) + rep
    return Plan(gpus, evaluated.astype(np.int64), seconds.astype(np.float64), per_gpu, reason)


def plan_replicated(
    usable_gb: F64,
    *,
    per_gpu_gb: float,
    seconds_per_job: F64,
    jobs: int,
    max_gpus: int,
    gpu_count: int | None = None,
    deadline_s: float | None = None,
    blocked: I8 | None = None,
) -> Plan:
    """``jobs`` independent jobs of ``seconds_per_job`` (g,) each; every GPU holds ``per_gpu_gb``.

    Without ``gpu_count``: 1 GPU, or with a deadline the fewest GPUs whose waves fit it (infeasible if one job alone
    exceeds the deadline, or more than ``max_gpus`` are needed). With it: exactly ``gpu_count``.
    """
    usable = np.asarray(usable_gb, dtype=np.float64)
    g = usable.shape[0]
    t = np.asarray(seconds_per_job, dtype=np.float64)
    block = np.zeros(g, dtype=np.int8) if blocked is None else np.asarray(blocked, dtype=np.int8)
    fits = per_gpu_gb <= usable
    t_ok = np.isfinite(t)
    if gpu_count is None:
        if deadline_s is None:
            n = np.ones(g, dtype=np.float64)
            reach = np.ones(g, dtype=np.bool_)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                waves = np.floor(deadline_s / np.where(t > 0, t, 1.0) * (1.0 + _EPS))
            waves = np.where(t > 0, waves, float(jobs))
            reach = waves >= 1.0
            with np.errstate(divide="ignore", invalid="ignore"):
                n = np.where(reach, np.ceil(jobs / np.maximum(waves, 1.0)), np.inf)
        within = n <= max_gpus
        reason = np.where(
            ~fits,
            INSUFFICIENT_MEMORY_AT_MAX,
            np.where(~reach, TARGET_NOT_MET, np.where(within & t_ok, OK, EXCEEDS_MAX_GPUS)),
        )
        evaluated = np.where(reason == OK, n, 1.0)
    else:
        evaluated = np.full(g, float(gpu_count))
        waves_at = np.ceil(jobs / evaluated)
        met = np.ones(g, dtype=np.bool_) if deadline_s is None else waves_at * t <= deadline_s * (1.0 + _EPS)
        reason = np.where(~fits, INSUFFICIENT_MEMORY_AT_COUNT, np.where(met & t_ok, OK, TARGET_NOT_MET))
    reason = np.where(block != OK, block, reason).astype(np.int8)
    feasible = reason == OK
    gpus = np.where(feasible, evaluated, 0.0).astype(np.int64)
    seconds = np.where(feasible, np.ceil(jobs / np.maximum(evaluated, 1.0)) * t, np.inf)
    per_gpu = np.full(g, float(per_gpu_gb))
    return Plan(gpus, evaluated.astype(np.int64), seconds.astype(np.float64), per_gpu, reason)


def llm_decode(
    bandwidth_gbps: F64,
    tflops: F64,
    *,
    bytes_per_step: float,
    flops_per_step: float,
    bandwidth_efficiency: float,
    compute_efficiency: float,
) -> tuple[F64, I64]:
    """One decode step (every sequence in the batch emits one token) on one GPU: (seconds (g,), bound (g,)).

    Roofline of streaming ``bytes_per_step`` (weights once + each sequence's KV cache) against
    ``flops_per_step``. bound 0 = memory bandwidth, 1 = compute.
    """
    bw = np.asarray(bandwidth_gbps, dtype=np.float64) * 1e9 * bandwidth_efficiency
    fl = np.asarray(tflops, dtype=np.float64) * 1e12 * compute_efficiency
    return roofline_seconds([bytes_per_step, flops_per_step], [bw, fl])


def compute_seconds(tflops: F64, flops: float, efficiency: float) -> F64:
    """``flops / (tflops * 1e12 * efficiency)`` per GPU (inf where the peak is 0)."""
    seconds, _ = roofline_seconds([flops], [np.asarray(tflops, dtype=np.float64) * 1e12 * efficiency])
    return seconds


def seconds_at_counts(seconds_1: F64, counts: I64, beta: float) -> F64:
    """Sharded job time for each GPU model (rows) at each count (columns): (g, k); non-increasing along k."""
    s = np.asarray(seconds_1, dtype=np.float64)[:, None]
    out: F64 = s / speedup(np.asarray(counts, dtype=np.float64)[None, :], beta)
    return out


def replicated_seconds_at_counts(seconds_per_job: F64, jobs: int, counts: I64) -> F64:
    """Replicated job time (g, k) at each count; non-increasing along k."""
    waves = np.ceil(jobs / np.asarray(counts, dtype=np.float64))[None, :]
    out: F64 = np.asarray(seconds_per_job, dtype=np.float64)[:, None] * waves
    return out
