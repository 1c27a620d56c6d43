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


@dataclass(frozen=True)
class Serving:
    """The chosen serving layout per GPU model (g,) at its GPU count: tensor-parallel degree ``tp`` (replicas =
    count / tp), sequences per replica ``batch``, the decode step, the time to first token of a batch, the job time,
    the aggregate decode rate, memory per GPU and the binding resource of the step (0 bandwidth, 1 compute).
    Where no layout is valid (or the count is 0): ``tp`` 0 and the times inf."""

    tp: I64
    batch: F64
    step_s: F64
    ttft_s: F64
    seconds: F64
    tokens_per_s: F64
    memory_per_gpu_gb: F64
    bound: I64


@dataclass(frozen=True)
class ServingModel:
    """What one serving workload needs, independent of the GPU: bytes in GB (1e9 B), FLOPs, token counts.

    ``dense_gb`` weights every step reads; ``expert_gb`` the routed experts' weights, of which a decode step at
    batch B reads the share ``1 - (1 - expert_share)**B`` (uniform routing; 0 for a dense model);
    ``kv_gb_per_token`` the KV cache of one token; ``kv_read_tokens`` the mean tokens of a sequence a decode step
    reads; ``kv_held_tokens`` the tokens a sequence holds (latency: the longest context, reserved; throughput: the
    mean in flight); ``reserve_gb`` per GPU (runtime + activations). ``fixed_batch`` > 0: that many sequences in
    total (latency mode), split over the replicas; 0: each replica batches what memory holds, at most
    ``batch_cap`` (throughput mode, continuous batching: no waves)."""

    dense_gb: float
    expert_gb: float
    expert_share: float
    kv_gb_per_token: float
    kv_read_tokens: float
    kv_held_tokens: float
    reserve_gb: float
    decode_flops_per_token: float
    prefill_flops_per_seq: float
    output_tokens: float
    requests: float
    fixed_batch: int
    batch_cap: int


def llm_serving(
    bandwidth_gbps: F64,
    tflops: F64,
    usable_gb: F64,
    gpus: I64,
    model: ServingModel,
    *,
    bandwidth_efficiency: float,
    compute_efficiency: float,
    beta: float,
    decode_compute_share: float = 1.0,
    min_tokens_per_s: float | None = None,
) -> Serving:
    """Every layout of ``gpus`` (g,) GPUs as floor(count / t) replicas of tensor parallelism t (t in 1, 2, 4, 8,
    16, 24, ... and the count itself), costed with one roofline, and the one with the shortest job per GPU model
    (more GPUs only add layouts or replicas, so the time never grows with the count).

    Per replica at degree t: step(B) = max(bytes(B) / (bw eff), B decode_flops / (peak eff share)) / t**beta with
    bytes(B) = dense + expert x touched(B) + kv_per_token x kv_read x B (``share``: decode's small-batch GEMMs reach
    that share of prefill's efficiency); prefill of a sequence = prefill_flops / (peak eff) / t**beta. Latency mode
    (fixed batch): B = ceil(fixed / replicas), ceil(requests / replicas / B) waves of (B prefill + output step).
    Throughput mode: B = what the free memory holds, at most the cap; requests / replicas / B cycles of the same.
    A layout is valid when it fits (weights / t + reserve + held KV of its batch / t <= usable), and, with
    ``min_tokens_per_s``, when it reaches that rate (if no layout does, the single tensor-parallel group, which the
    count was chosen for). Idle GPUs (count not a multiple of t) are allowed.
    """
    bw = np.asarray(bandwidth_gbps, dtype=np.float64)[None, :] * 1e9 * bandwidth_efficiency
    fl = np.asarray(tflops, dtype=np.float64)[None, :] * 1e12 * compute_efficiency
    usable = np.asarray(usable_gb, dtype=np.float64)[None, :]
    n = np.asarray(gpus, dtype=np.float64)[None, :]
    top = max(1, int(np.max(gpus, initial=1)))
    powers = np.array([c for c in (1, 2, 4, 8, *range(16, top + 1, 8)) if c <= top], dtype=np.float64)
    tp = np.concatenate([np.broadcast_to(powers[:, None], (powers.size, n.shape[1])), np.maximum(n, 1.0)])  # (k, g)
    divides = (n >= 1) & (tp <= n)
    replicas = np.where(divides, np.floor(n / tp), 1.0)  # GPUs left over by a layout stay idle
    batch, fits, streams = _layout_batches(model, tp, replicas, usable)
    step, prefill_seq, bound = _decode_step(
        model, batch, bw, fl, decode_share=decode_compute_share, speed=np.power(tp, beta)
    )
    ttft = batch * prefill_seq if model.fixed_batch > 0 else prefill_seq
    per_replica = np.ceil(model.requests / replicas)
    cycles = np.ceil(per_replica / batch) if model.fixed_batch > 0 else per_replica / batch
    with np.errstate(invalid="ignore"):
        seconds = cycles * (batch * prefill_seq + model.output_tokens * step)
        rate = streams / step
    valid = divides & fits & np.isfinite(seconds)
    if min_tokens_per_s is not None:
        fast = valid & (rate >= min_tokens_per_s * (1.0 - 1e-9))
        whole = valid & (tp == n)
        valid = np.where(np.any(fast, axis=0, keepdims=True), fast, whole)
    best = np.argmin(np.where(valid, seconds, np.inf), axis=0)  # ties: the first (fewest GPUs per replica)
    cols = np.arange(valid.shape[1])
    ok = valid[best, cols]

    def pick(a: F64, empty: float = np.inf) -> F64:
        chosen: F64 = np.where(ok, np.broadcast_to(a, valid.shape)[best, cols], empty)
        return chosen

    tp_best = np.where(ok, tp[best, cols], 0.0).astype(np.int64)
    held_kv = model.kv_gb_per_token * model.kv_held_tokens * pick(batch, 0.0)
    weights = model.dense_gb + model.expert_gb
    return Serving(
        tp=tp_best,
        batch=pick(batch, 0.0),
        step_s=pick(step),
        ttft_s=pick(ttft),
        seconds=pick(seconds),
        tokens_per_s=pick(rate, 0.0),
        memory_per_gpu_gb=np.where(ok, (weights + held_kv) / np.maximum(tp_best, 1) + model.reserve_gb, np.nan),
        bound=pick(bound.astype(np.float64), 0.0).astype(np.int64),
    )


def _layout_batches(model: ServingModel, tp: F64, replicas: F64, usable: F64) -> tuple[F64, NDArray[np.bool_], F64]:
    """Per layout (k, g): sequences per replica, whether they fit, sequences decoded at once over the replicas."""
    free_kv = tp * (usable - model.reserve_gb) - (model.dense_gb + model.expert_gb)  # GB for KV in one replica
    held_per_seq = model.kv_gb_per_token * model.kv_held_tokens
    if model.fixed_batch > 0:
        batch = np.broadcast_to(np.ceil(model.fixed_batch / replicas), free_kv.shape)
        fits = free_kv >= held_per_seq * batch * (1.0 - _EPS)
        return batch, fits, np.minimum(batch * replicas, float(model.fixed_batch))
    if held_per_seq > 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            held = np.floor(free_kv / held_per_seq * (1.0 + _EPS))
    else:
        held = np.where(free_kv >= 0, float(model.batch_cap), 0.0)
    batch = np.clip(held, 1.0, float(model.batch_cap))
    return batch, held >= 1.0, batch * replicas


def _decode_step(
    model: ServingModel, batch: F64, bw: F64, fl: F64, *, decode_share: float, speed: F64
) -> tuple[F64, F64, I64]:
    """Per layout (k, g): one decode step at ``batch``, one sequence's prefill, the step's binding resource."""
    touched = 1.0 - np.power(1.0 - model.expert_share, batch) if model.expert_gb > 0 else np.zeros_like(batch)
    step_bytes = 1e9 * (
        model.dense_gb + model.expert_gb * touched + model.kv_gb_per_token * model.kv_read_tokens * batch
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        t_bw = np.where(bw > 0, step_bytes / np.where(bw > 0, bw, 1.0), np.inf)
        t_fl = np.where(fl > 0, batch * model.decode_flops_per_token / np.where(fl > 0, fl * decode_share, 1.0), np.inf)
        prefill = np.where(fl > 0, model.prefill_flops_per_seq / np.where(fl > 0, fl, 1.0), np.inf) / speed
    bound: I64 = (t_fl > t_bw).astype(np.int64)
    step: F64 = np.maximum(t_bw, t_fl) / speed
    return step, prefill, bound
