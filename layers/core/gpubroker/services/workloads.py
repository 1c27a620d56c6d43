"""Workload estimation and workload -> GPU mapping (``POST /math/estimate-workload``, ``/math/map-workload-to-gpu``).

Both use cases run the same computation: the request's resource requirement (memory, FLOPs, bytes moved, from
the formulas in :mod:`gpubroker.domain.workloads`), then one vectorised plan over every GPU model
(:mod:`gpumath.workload`), then the live price per GPU-hour. They differ in what they return:

- :func:`estimate_workload` -> :class:`WorkloadEstimate`: the requirement (with its memory breakdown, the
  assumptions and the sources) and one short line per GPU model in catalog order (feasible, count, hours, cost or a
  reason). Complete and unranked: "what does this need, and where can it run?".
- :func:`map_workload_to_gpu` -> :class:`WorkloadMapping`: the requirement and the full per-GPU plans (tokens/s,
  memory per GPU, bottleneck, offer, type-specific metrics, per-plan assumptions), feasible ones ranked by cost
  then time then GPU count (at most ``top``), followed by every infeasible one with its reason.

``prices`` maps ``gpu_model -> (cheapest live USD per GPU-hour, offer_id)``; the caller builds it from the offer
snapshot. With ``prices=None`` nothing is priced and feasibility is technical only. With prices, a technically
feasible GPU without an offer is infeasible with reason ``no_offers`` (its count and time are still reported).

Requests that are in range field by field but contradictory raise :class:`ValidationFailed` (422).
Imports NumPy (through gpumath): only the math functions import this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from gpubroker.domain import workloads as w
from gpubroker.domain.errors import ValidationFailed
from gpubroker.domain.gpus import GpuSpec, UnknownGpu, canonical_gpu
from gpumath import workload as k

F64 = NDArray[np.float64]
Prices = Mapping[str, tuple[float, str]]

# caller-side blocked codes for gpumath plans (kernel codes are 0..5)
_PRECISION, _CODEC, _NO_ENCODER = 16, 17, 18
_REASON_NAMES: dict[int, w.Reason] = {
    k.INSUFFICIENT_MEMORY_AT_MAX: "insufficient_memory_even_at_max_gpus",
    k.EXCEEDS_MAX_GPUS: "exceeds_max_gpus",
    k.INSUFFICIENT_MEMORY_AT_COUNT: "insufficient_memory_at_gpu_count",
    k.TARGET_NOT_MET: "target_not_met",
    _PRECISION: "precision_unsupported",
    _CODEC: "codec_unsupported",
    _NO_ENCODER: "no_hardware_encoder",
}
_TRAINING_PRECISIONS = ("fp32", "fp16", "bf16", "fp8")
_FLOAT_PRECISIONS = ("fp32", "fp16", "bf16", "fp8")


@dataclass(frozen=True)
class _Cols:
    """GPU spec columns over g models (built once per call from the specs)."""

    models: list[str]
    architectures: list[str]
    memory_gb: F64
    bandwidth_gbps: F64
    tensor_tflops: F64
    fp32_tflops: F64

    @property
    def usable_gb(self) -> F64:
        out: F64 = self.memory_gb * w.USABLE_MEMORY_FRACTION
        return out

    def tflops(self, precision: w.Precision) -> F64:
        return k.effective_tflops(self.tensor_tflops, self.fp32_tflops, w.compute_path(precision))

    def precision_blocked(self, precision: w.Precision) -> NDArray[np.int8]:
        ok = np.array([w.precision_supported(a, precision) for a in self.architectures], dtype=np.bool_)
        out: NDArray[np.int8] = np.where(ok, 0, _PRECISION).astype(np.int8)
        return out


@dataclass
class _Built:
    """One workload's requirement and its plan over the GPU columns."""

    requirement: w.WorkloadRequirement
    plan: k.Plan
    bound: list[w.Bottleneck]  # per GPU, when feasible (or limited by time)
    tokens_per_s: F64 | None = None
    metrics: dict[str, F64] = field(default_factory=dict)
    plan_assumptions: Callable[[int, int], list[str]] = lambda _i, _n: []


# ---- public use cases ----------------------------------------------------------------------------------------------


def estimate_workload(
    request: w.LlmInference | w.Training | w.ImageGeneration | w.VideoProcessing | w.DataProcessing,
    *,
    specs: Sequence[GpuSpec],
    prices: Prices | None,
) -> w.WorkloadEstimate:
    """The requirement and one feasibility line per GPU model (catalog order)."""
    requirement, plans = plan_workload(request, specs=specs, prices=prices)
    lines = [
        w.GpuFeasibility(
            gpu_model=p.gpu_model,
            feasible=p.feasible,
            gpus_needed=p.gpus_needed,
            est_hours=p.est_hours,
            est_cost_usd=p.est_cost_usd,
            bottleneck=p.bottleneck,
            reason=p.reason,
        )
        for p in plans
    ]
    return w.WorkloadEstimate(requirement=requirement, gpus=lines, priced=prices is not None)


def map_workload_to_gpu(
    request: w.LlmInference | w.Training | w.ImageGeneration | w.VideoProcessing | w.DataProcessing,
    *,
    specs: Sequence[GpuSpec],
    prices: Prices | None,
    top: int = 10,
) -> w.WorkloadMapping:
    """Feasible plans cheapest first (then fastest, then fewest GPUs), at most ``top``; then every infeasible one."""
    if not 1 <= top <= 100:
        raise ValidationFailed("top must be between 1 and 100", details={"field": "top"})
    requirement, plans = plan_workload(request, specs=specs, prices=prices)
    feasible = sorted(
        (p for p in plans if p.feasible),
        key=lambda p: (
            p.est_cost_usd if p.est_cost_usd is not None else math.inf,
            p.est_hours if p.est_hours is not None else math.inf,
            p.gpus_needed or 0,
            p.gpu_model,
        ),
    )
    infeasible = sorted(
        (p for p in plans if not p.feasible),
        key=lambda p: (w.REASONS.index(p.reason) if p.reason else -1, p.gpu_model),
    )
    return w.WorkloadMapping(
        requirement=requirement,
        plans=feasible[:top],
        infeasible=infeasible,
        more_feasible=max(0, len(feasible) - top),
        priced=prices is not None,
    )


def plan_workload(
    request: w.LlmInference | w.Training | w.ImageGeneration | w.VideoProcessing | w.DataProcessing,
    *,
    specs: Sequence[GpuSpec],
    prices: Prices | None,
) -> tuple[w.WorkloadRequirement, list[w.GpuPlan]]:
    """The requirement and one full plan per GPU model, in the order of ``specs``."""
    cols = _columns(_select(specs, request.gpus))
    _check_common(request)
    built = _build(request, cols)
    return built.requirement, _plans(built, cols, prices)


# ---- assembly ------------------------------------------------------------------------------------------------------


def _select(specs: Sequence[GpuSpec], wanted: Sequence[str]) -> list[GpuSpec]:
    if not specs:
        raise ValidationFailed("no GPU models to evaluate")
    if not wanted:
        return list(specs)
    by_model = {s.model: s for s in specs}
    chosen: dict[str, GpuSpec] = {}
    unknown: list[str] = []
    for raw in wanted:
        try:
            model = raw if raw in by_model else canonical_gpu(raw)
        except UnknownGpu:
            model = ""
        if model in by_model:
            chosen[model] = by_model[model]
        else:
            unknown.append(raw)
    if unknown:
        raise ValidationFailed(f"unknown GPU models: {', '.join(unknown)}", details={"field": "gpus"})
    return [s for s in specs if s.model in chosen]


def _columns(specs: Sequence[GpuSpec]) -> _Cols:
    return _Cols(
        models=[s.model for s in specs],
        architectures=[s.architecture for s in specs],
        memory_gb=np.array([s.memory_gb for s in specs], dtype=np.float64),
        bandwidth_gbps=np.array([s.memory_bandwidth_gbps for s in specs], dtype=np.float64),
        tensor_tflops=np.array([s.fp16_tensor_tflops for s in specs], dtype=np.float64),
        fp32_tflops=np.array([s.fp32_tflops for s in specs], dtype=np.float64),
    )


def _check_common(
    request: w.LlmInference | w.Training | w.ImageGeneration | w.VideoProcessing | w.DataProcessing,
) -> None:
    if request.gpu_count is not None and request.gpu_count > request.max_gpus:
        raise ValidationFailed(
            f"gpu_count ({request.gpu_count}) exceeds max_gpus ({request.max_gpus})", details={"field": "gpu_count"}
        )


def _build(
    request: w.LlmInference | w.Training | w.ImageGeneration | w.VideoProcessing | w.DataProcessing, cols: _Cols
) -> _Built:
    if isinstance(request, w.LlmInference):
        return _llm_inference(request, cols)
    if isinstance(request, w.Training):
        return _training(request, cols)
    if isinstance(request, w.ImageGeneration):
        return _image(request, cols)
    if isinstance(request, w.VideoProcessing):
        return _video(request, cols)
    return _data(request, cols)


def _plans(built: _Built, cols: _Cols, prices: Prices | None) -> list[w.GpuPlan]:
    plan = built.plan
    out: list[w.GpuPlan] = []
    for i, model in enumerate(cols.models):
        code = int(plan.reason[i])
        n = int(plan.gpus[i])
        seconds = float(plan.seconds[i])
        technical = code == k.OK
        reason: w.Reason | None = None if technical else _REASON_NAMES[code]
        bottleneck: w.Bottleneck = built.bound[i]
        if code in (_PRECISION, _CODEC, _NO_ENCODER):
            bottleneck = "unsupported"
        elif code in (k.INSUFFICIENT_MEMORY_AT_MAX, k.INSUFFICIENT_MEMORY_AT_COUNT):
            bottleneck = "memory_capacity"
        offer = prices.get(model) if prices is not None else None
        est_hours = w.hours(seconds) if technical else None
        cost = None
        metrics = {name: float(arr[i]) for name, arr in built.metrics.items() if technical and np.isfinite(arr[i])}
        if technical and prices is not None and offer is None:
            reason = "no_offers"
        elif technical and offer is not None and est_hours is not None:
            cost = n * offer[0] * est_hours
            if built.requirement.type == "llm_inference" and "output_tokens" in metrics:
                metrics["cost_per_million_output_tokens"] = cost / metrics["output_tokens"] * 1e6
            if built.requirement.type == "image_generation" and "images" in metrics:
                metrics["cost_per_image"] = cost / metrics["images"]
        tps = built.tokens_per_s
        out.append(
            w.GpuPlan(
                gpu_model=model,
                feasible=technical and reason is None,
                gpus_needed=n if technical else None,
                est_hours=est_hours,
                est_tokens_per_s=float(tps[i]) if technical and tps is not None and np.isfinite(tps[i]) else None,
                memory_required_gb=built.requirement.memory_required_gb,
                memory_per_gpu_gb=round(float(plan.memory_per_gpu_gb[i]), 4),
                bottleneck=bottleneck,
                est_cost_usd=cost,
                price_per_gpu_hour=offer[0] if offer is not None else None,
                offer_id=offer[1] if offer is not None else None,
                reason=reason,
                metrics=metrics,
                assumptions=_plan_notes(built, i, code, int(plan.evaluated_gpus[i])),
            )
        )
    return out


def _plan_notes(built: _Built, i: int, code: int, evaluated: int) -> list[str]:
    if code == k.OK:
        return built.plan_assumptions(i, evaluated)
    if code in (k.INSUFFICIENT_MEMORY_AT_MAX, k.INSUFFICIENT_MEMORY_AT_COUNT):
        if built.requirement.parallelism == "replicated":
            return ["every GPU holds the whole working set: more GPUs do not reduce memory per GPU"]
        return [f"memory_per_gpu_gb is shown at {evaluated} GPU(s), the most allowed"]
    return []


def _requirement(
    type_: w.WorkloadType,
    *,
    parallelism: w.Parallelism,
    breakdown: dict[str, float],
    flops: float,
    bytes_moved: float,
    jobs: int,
    assumptions: list[str],
    sources: Sequence[str],
) -> w.WorkloadRequirement:
    return w.WorkloadRequirement(
        type=type_,
        parallelism=parallelism,
        memory_required_gb=round(sum(breakdown.values()), 6),
        memory_breakdown_gb={key: round(v, 6) for key, v in breakdown.items()},
        total_flops=flops,
        bytes_moved=bytes_moved,
        jobs=jobs,
        assumptions=assumptions,
        sources={key: w.SOURCES[key] for key in sources},
    )


def _scaling_note(beta: float) -> Callable[[int, int], list[str]]:
    def note(_i: int, n: int) -> list[str]:
        if n <= 1:
            return []
        return [f"{n} GPUs at {n ** (beta - 1):.0%} parallel efficiency (speedup n^{beta})"]

    return note


def _bounds(names: Sequence[w.Bottleneck], idx: NDArray[np.int64]) -> list[w.Bottleneck]:
    return [names[int(j)] for j in idx]


def _deadline_s(deadline_hours: float | None) -> float | None:
    return None if deadline_hours is None else deadline_hours * 3600.0


# ---- LLM inference -------------------------------------------------------------------------------------------------


def _llm_inference(r: w.LlmInference, cols: _Cols) -> _Built:
    if r.output_tokens >= r.context_tokens:
        raise ValidationFailed(
            "output_tokens must be smaller than context_tokens (the context holds prompt + output)",
            details={"field": "output_tokens"},
        )
    if r.requests is not None and r.concurrency > r.requests:
        raise ValidationFailed("concurrency cannot exceed requests", details={"field": "concurrency"})
    shape = w.llama_shape(
        r.params_b, n_layers=r.n_layers, hidden=r.hidden, n_kv_heads=r.n_kv_heads, head_dim=r.head_dim
    )
    if shape.n_kv_heads * shape.head_dim > shape.hidden:
        raise ValidationFailed(
            f"n_kv_heads x head_dim ({shape.n_kv_heads * shape.head_dim}) cannot exceed hidden ({shape.hidden})",
            details={"field": "n_kv_heads"},
        )
    n_params = r.params_b * 1e9
    weights_gb = r.params_b * w.BYTES_PER_PARAM[r.precision]
    kv_per_token = 2.0 * shape.n_layers * shape.n_kv_heads * shape.head_dim * w.KV_BYTES[r.precision]
    kv_gb = kv_per_token * r.context_tokens * r.concurrency / 1e9
    overhead_gb = w.INFERENCE_OVERHEAD_FRACTION * weights_gb
    prompt = r.context_tokens - r.output_tokens
    avg_ctx = prompt + r.output_tokens / 2.0
    bytes_per_step = weights_gb * 1e9 + kv_per_token * avg_ctx * r.concurrency
    flops_per_token = 2.0 * n_params + 4.0 * shape.n_layers * shape.hidden * avg_ctx
    prefill_flops = 2.0 * n_params * prompt + 2.0 * shape.n_layers * shape.hidden * prompt**2
    requests = r.requests or r.concurrency
    waves = math.ceil(requests / r.concurrency)

    tflops = cols.tflops(r.precision)
    step1, bound_idx = k.llm_decode(
        cols.bandwidth_gbps,
        tflops,
        bytes_per_step=bytes_per_step,
        flops_per_step=flops_per_token * r.concurrency,
        bandwidth_efficiency=w.DECODE_BANDWIDTH_EFFICIENCY,
        compute_efficiency=w.PREFILL_COMPUTE_EFFICIENCY,
    )
    prefill1 = k.compute_seconds(tflops, prefill_flops * r.concurrency, w.PREFILL_COMPUTE_EFFICIENCY)
    job1 = waves * (prefill1 + r.output_tokens * step1)
    limit = None if r.target_tokens_per_s is None else r.concurrency / r.target_tokens_per_s
    beta = w.BETA_TENSOR_PARALLEL
    plan = k.plan_sharded(
        cols.usable_gb,
        sharded_gb=weights_gb + kv_gb + overhead_gb,
        replicated_gb=0.0,
        seconds_1=job1,
        beta=beta,
        max_gpus=r.max_gpus,
        gpu_count=r.gpu_count,
        constraint_1=step1,
        limit=limit,
        blocked=cols.precision_blocked(r.precision),
    )
    sp = k.speedup(np.maximum(plan.evaluated_gpus, 1), beta)
    output_total = float(requests * r.output_tokens)
    requirement = _requirement(
        "llm_inference",
        parallelism="sharded",
        breakdown={"weights": weights_gb, "kv_cache": kv_gb, "overhead": overhead_gb},
        flops=requests * (prefill_flops + r.output_tokens * flops_per_token),
        bytes_moved=waves * r.output_tokens * bytes_per_step,
        jobs=1,
        assumptions=[
            f"model shape: {shape.n_layers} layers, hidden {shape.hidden}, {shape.n_kv_heads} KV heads x "
            f"{shape.head_dim} (Llama-like defaults for the unset fields)",
            f"KV cache {kv_per_token / 1e6:.3f} MB per token at {w.KV_BYTES[r.precision]:g} B per element, "
            f"reserved for {r.context_tokens} tokens x {r.concurrency} sequences",
            f"{requests} requests in {waves} wave(s) of {r.concurrency}; prompt {prompt} + output "
            f"{r.output_tokens} tokens",
            f"decode reads the weights once per step at {w.DECODE_BANDWIDTH_EFFICIENCY:.0%} of peak bandwidth; "
            f"prefill at {w.PREFILL_COMPUTE_EFFICIENCY:.0%} of the {w.compute_path(r.precision)} peak",
            f"{w.USABLE_MEMORY_FRACTION:.0%} of each GPU's memory is usable",
        ],
        sources=(
            "bytes_per_param",
            "kv_cache",
            "llama_shape",
            "inference_overhead",
            "usable_memory_fraction",
            "decode_bandwidth_efficiency",
            "prefill_compute_efficiency",
            "decode_flops",
            "scaling",
            "gpu_counts",
            "fp8_rate",
            "precision_support",
        ),
    )
    return _Built(
        requirement=requirement,
        plan=plan,
        bound=_bounds(("memory_bandwidth", "compute"), bound_idx),
        tokens_per_s=r.concurrency * sp / step1,
        metrics={
            "ttft_s": prefill1 / sp,
            "decode_step_ms": step1 / sp * 1e3,
            "output_tokens": np.full(len(cols.models), output_total),
        },
        plan_assumptions=_scaling_note(beta),
    )


# ---- training ------------------------------------------------------------------------------------------------------


def _training(r: w.Training, cols: _Cols) -> _Built:
    if r.precision not in _TRAINING_PRECISIONS:
        raise ValidationFailed(
            f"training precision must be one of {', '.join(_TRAINING_PRECISIONS)}; int8/int4 are inference "
            "formats (use method=qlora for 4-bit base weights)",
            details={"field": "precision"},
        )
    if r.method == "qlora" and r.precision not in ("fp16", "bf16"):
        raise ValidationFailed("QLoRA computes in bf16 or fp16", details={"field": "precision"})
    shape = w.llama_shape(r.params_b)
    n_params = r.params_b * 1e9
    compute_bytes = 4.0 if r.precision == "fp32" else 2.0
    master = 0.0 if r.precision == "fp32" else w.MASTER_WEIGHT_BYTES
    per_trainable = compute_bytes * 2 + master + w.OPTIMIZER_STATE_BYTES[r.optimizer]
    if r.method == "full":
        trainable, frozen, frozen_bytes = n_params, 0.0, 0.0
    else:
        trainable = r.lora_fraction * n_params
        frozen = n_params
        frozen_bytes = w.QLORA_BYTES_PER_PARAM if r.method == "qlora" else compute_bytes
    states_gb = trainable * per_trainable / 1e9
    frozen_gb = frozen * frozen_bytes / 1e9
    sbh = float(r.seq_len) * r.micro_batch_size * shape.hidden * (compute_bytes / 2.0)
    if r.gradient_checkpointing:
        act_gb = sbh * (w.CHECKPOINT_LAYER_BYTES * shape.n_layers + w.ACTIVATION_LAYER_BYTES) / 1e9
    else:
        act_gb = sbh * w.ACTIVATION_LAYER_BYTES * shape.n_layers / 1e9
    tokens = r.dataset_tokens_b * 1e9 * r.epochs
    flops_factor = 6.0 if r.method == "full" else 4.0
    flops = flops_factor * n_params * tokens
    tflops = cols.tflops(r.precision)
    seconds_1 = k.compute_seconds(tflops, flops, r.utilisation)
    deadline = _deadline_s(r.deadline_hours)
    beta = w.BETA_DATA_PARALLEL
    plan = k.plan_sharded(
        cols.usable_gb,
        sharded_gb=states_gb + frozen_gb,
        replicated_gb=act_gb,
        seconds_1=seconds_1,
        beta=beta,
        max_gpus=r.max_gpus,
        gpu_count=r.gpu_count,
        constraint_1=seconds_1,
        limit=deadline,
        blocked=cols.precision_blocked(r.precision),
    )
    steps = tokens / (r.seq_len * r.micro_batch_size)
    breakdown = {"trainable_states": states_gb, "activations_per_gpu": act_gb}
    if frozen:
        breakdown["frozen_weights"] = frozen_gb
    sp = k.speedup(np.maximum(plan.evaluated_gpus, 1), beta)
    requirement = _requirement(
        "training",
        parallelism="sharded",
        breakdown=breakdown,
        flops=flops,
        bytes_moved=2.0 * (states_gb + frozen_gb) * 1e9 * steps,
        jobs=1,
        assumptions=[
            f"{tokens:.4g} tokens = {r.dataset_tokens_b:g}B x {r.epochs:g} epochs; FLOPs = {flops_factor:g} N D",
            f"{per_trainable:g} B per trainable parameter ({r.precision}, {r.optimizer}); "
            f"{trainable:.4g} trainable of {n_params:.4g}",
            f"model states sharded over the GPUs (ZeRO-3/FSDP); activations per GPU for micro-batch "
            f"{r.micro_batch_size} x {r.seq_len} tokens, "
            f"{'with' if r.gradient_checkpointing else 'without'} gradient checkpointing",
            f"MFU {r.utilisation:g} of the {w.compute_path(r.precision)} peak; optimizer read/write once per "
            f"step of {r.micro_batch_size * r.seq_len} tokens (bytes_moved)",
        ],
        sources=(
            "training_flops",
            "mfu",
            "training_memory",
            "optimizer_states",
            "qlora",
            "activations",
            "llama_shape",
            "usable_memory_fraction",
            "scaling",
            "gpu_counts",
            "fp8_rate",
            "precision_support",
        ),
    )
    return _Built(
        requirement=requirement,
        plan=plan,
        bound=["compute"] * len(cols.models),
        tokens_per_s=tokens / (seconds_1 / sp),
        metrics={"parallel_efficiency": sp / np.maximum(plan.evaluated_gpus, 1)},
        plan_assumptions=_scaling_note(beta),
    )


# ---- image generation ----------------------------------------------------------------------------------------------


def _image(r: w.ImageGeneration, cols: _Cols) -> _Built:
    if r.precision not in _FLOAT_PRECISIONS:
        raise ValidationFailed("image generation runs in fp32, fp16, bf16 or fp8", details={"field": "precision"})
    if r.width % 8 or r.height % 8:
        raise ValidationFailed("width and height must be multiples of 8 (the VAE downsamples by 8)")
    if r.batch > r.images:
        raise ValidationFailed("batch cannot exceed images", details={"field": "batch"})
    fam = w.IMAGE_FAMILY[r.model_family]
    steps = r.steps or int(fam["default_steps"])
    mp = r.width * r.height / 1e6
    weights_gb = (fam["denoiser_b"] + fam["other_b"]) * w.BYTES_PER_PARAM[r.precision]
    act_gb = w.DIFFUSION_ACTIVATION_GB_PER_MP * mp * r.batch
    flops_batch = fam["tflop_per_step_mp"] * 1e12 * mp * steps * r.batch
    t_batch = k.compute_seconds(cols.tflops(r.precision), flops_batch, w.DIFFUSION_UTILISATION)
    jobs = math.ceil(r.images / r.batch)
    plan = k.plan_replicated(
        cols.usable_gb,
        per_gpu_gb=weights_gb + act_gb,
        seconds_per_job=t_batch,
        jobs=jobs,
        max_gpus=r.max_gpus,
        gpu_count=r.gpu_count,
        deadline_s=_deadline_s(r.deadline_hours),
        blocked=cols.precision_blocked(r.precision),
    )
    g = len(cols.models)
    requirement = _requirement(
        "image_generation",
        parallelism="replicated",
        breakdown={"weights": weights_gb, "activations": act_gb},
        flops=flops_batch * jobs,
        bytes_moved=fam["denoiser_b"] * w.BYTES_PER_PARAM[r.precision] * 1e9 * steps * jobs,
        jobs=jobs,
        assumptions=[
            f"{r.model_family}: {fam['denoiser_b'] + fam['other_b']:g}B parameters incl. text encoders and VAE, "
            f"{fam['tflop_per_step_mp']:g} TFLOP per step per megapixel",
            f"{steps} steps at {r.width}x{r.height}, {jobs} batch(es) of {r.batch}; each GPU holds the pipeline",
            f"{w.DIFFUSION_UTILISATION:.0%} of the {w.compute_path(r.precision)} peak; text encoding and VAE "
            "decode time not counted; FLOPs scale linearly with pixels",
        ],
        sources=(
            "diffusion_flops",
            "diffusion_params",
            "diffusion_utilisation",
            "diffusion_activation",
            "bytes_per_param",
            "usable_memory_fraction",
            "fp8_rate",
            "precision_support",
        ),
    )
    return _Built(
        requirement=requirement,
        plan=plan,
        bound=["compute"] * g,
        metrics={"seconds_per_image": t_batch / r.batch, "images": np.full(g, float(r.images))},
    )


# ---- video processing ----------------------------------------------------------------------------------------------


def _video(r: w.VideoProcessing, cols: _Cols) -> _Built:
    frames = max(1, math.ceil(r.fps * r.duration_s))
    px = float(r.width * r.height)
    deadline = _deadline_s(r.deadline_hours)
    g = len(cols.models)
    if r.task == "diffusion_video":
        return _video_diffusion(r, cols, frames, deadline)
    if r.task == "transcode":
        engines = np.array([w.NVENC_ENGINES.get(m, 0) for m in cols.models], dtype=np.float64)
        av1_ok = np.array([a in w.AV1_ENCODE_ARCHITECTURES for a in cols.architectures], dtype=np.bool_)
        blocked = np.where(engines == 0, _NO_ENCODER, np.where((r.codec == "av1") & ~av1_ok, _CODEC, 0))
        fps_gpu = engines * w.NVENC_FPS_1080P * w.CODEC_SPEED[r.codec] * (1920 * 1080) / px
        t_frame, _ = k.roofline_seconds([1.0], [fps_gpu])
        per_gpu = w.VIDEO_SESSION_MEMORY_GB
        flops = 0.0
        bound: list[w.Bottleneck] = ["video_encoder"] * g
        note = f"NVENC {r.codec}: {w.NVENC_FPS_1080P:g} fps of 1080p per engine x {w.CODEC_SPEED[r.codec]:g}"
        jobs = frames
        sources: tuple[str, ...] = ("nvenc", "nvenc_throughput")
    else:
        if r.precision not in _FLOAT_PRECISIONS:
            raise ValidationFailed("video models run in fp32, fp16, bf16 or fp8", details={"field": "precision"})
        if r.task == "upscale":
            flops_frame = w.UPSCALE_FLOP_PER_INPUT_PIXEL[r.scale] * px
            t_frame = k.compute_seconds(cols.tflops(r.precision), flops_frame, w.UPSCALE_UTILISATION)
            blocked = cols.precision_blocked(r.precision)
            per_gpu = 1.0 + px * 64 * 2 * 8 / 1e9
            jobs = frames
            note = f"Real-ESRGAN x{r.scale} at {w.UPSCALE_UTILISATION:.0%} of the {r.precision} peak"
            sources = ("upscale_flops", "precision_support")
        else:
            jobs = frames * (r.interpolation_factor - 1)
            flops_frame = w.INTERPOLATION_FLOP_PER_PIXEL * px
            t_frame = k.compute_seconds(cols.fp32_tflops, flops_frame, 1.0)
            blocked = np.zeros(g, dtype=np.int8)
            per_gpu = 1.0 + px * 0.5e-6
            note = f"RIFE-like interpolation x{r.interpolation_factor}, calibrated on FP32 peak"
            sources = ("interpolation_cost",)
        flops = flops_frame * jobs
        bound = ["compute"] * g
    plan = k.plan_replicated(
        cols.usable_gb,
        per_gpu_gb=per_gpu,
        seconds_per_job=t_frame,
        jobs=jobs,
        max_gpus=r.max_gpus,
        gpu_count=r.gpu_count,
        deadline_s=deadline,
        blocked=blocked.astype(np.int8),
    )
    requirement = _requirement(
        "video_processing",
        parallelism="replicated",
        breakdown={"working_set": per_gpu},
        flops=flops,
        bytes_moved=px * 1.5 * jobs,  # 8-bit 4:2:0 frames in
        jobs=jobs,
        assumptions=[
            f"{r.task}: {frames} input frames ({r.width}x{r.height} at {r.fps:g} fps for {r.duration_s:g} s)",
            note,
            "frames (or segments) are independent: GPUs split them, each holds its own working set",
        ],
        sources=(*sources, "usable_memory_fraction"),
    )
    with np.errstate(divide="ignore"):
        realtime = np.where(t_frame > 0, (1.0 / r.fps) / (t_frame * jobs / frames), np.inf)
    return _Built(
        requirement=requirement,
        plan=plan,
        bound=bound,
        metrics={"seconds_per_frame": t_frame, "realtime_factor_1gpu": realtime},
    )


def _video_diffusion(r: w.VideoProcessing, cols: _Cols, frames: int, deadline: float | None) -> _Built:
    if r.precision not in _FLOAT_PRECISIONS:
        raise ValidationFailed("video diffusion runs in fp32, fp16, bf16 or fp8", details={"field": "precision"})
    shape = w.llama_shape(r.params_b)
    latent_frames = (frames - 1) // 4 + 1
    tokens = latent_frames * math.ceil(r.height / 16) * math.ceil(r.width / 16)
    flops_step = 2.0 * (2.0 * r.params_b * 1e9 * tokens + 4.0 * shape.n_layers * shape.hidden * float(tokens) ** 2)
    flops = flops_step * r.steps * r.clips
    weights_gb = r.params_b * w.BYTES_PER_PARAM[r.precision]
    act_gb = tokens * shape.hidden * w.VIDEO_ACTIVATION_BYTES_PER_TOKEN_DIM / 1e9
    seconds_1 = k.compute_seconds(cols.tflops(r.precision), flops, w.VIDEO_DIFFUSION_UTILISATION)
    beta = w.BETA_TENSOR_PARALLEL
    plan = k.plan_sharded(
        cols.usable_gb,
        sharded_gb=weights_gb + act_gb,
        replicated_gb=0.0,
        seconds_1=seconds_1,
        beta=beta,
        max_gpus=r.max_gpus,
        gpu_count=r.gpu_count,
        constraint_1=seconds_1,
        limit=deadline,
        blocked=cols.precision_blocked(r.precision),
    )
    requirement = _requirement(
        "video_processing",
        parallelism="sharded",
        breakdown={"weights": weights_gb, "activations": act_gb},
        flops=flops,
        bytes_moved=weights_gb * 1e9 * 2 * r.steps * r.clips,
        jobs=1,
        assumptions=[
            f"diffusion_video: {r.params_b:g}B DiT, {frames} frames -> {tokens} latent tokens "
            f"(VAE 4x temporal, 8x8 spatial, 2x2 patches), {r.steps} steps with CFG, {r.clips} clip(s)",
            f"{w.VIDEO_DIFFUSION_UTILISATION:.0%} of the {w.compute_path(r.precision)} peak; sequence-parallel "
            "over GPUs; text encoder and VAE offloaded",
        ],
        sources=("video_diffusion", "llama_shape", "bytes_per_param", "scaling", "gpu_counts", "precision_support"),
    )
    return _Built(
        requirement=requirement,
        plan=plan,
        bound=["compute"] * len(cols.models),
        plan_assumptions=_scaling_note(beta),
    )


# ---- data processing -----------------------------------------------------------------------------------------------


def _data(r: w.DataProcessing, cols: _Cols) -> _Built:
    g = len(cols.models)
    jobs = max(1, math.ceil(r.dataset_gb / w.DATA_PARTITION_GB))
    chunk = min(r.dataset_gb, w.DATA_PARTITION_GB)
    chunk_bytes = chunk * 1e9
    host = np.full(g, w.HOST_IO_GBPS * 1e9)
    hbm = cols.bandwidth_gbps * 1e9
    blocked = np.zeros(g, dtype=np.int8)
    tokens_per_s: F64 | None = None
    if r.operation == "etl":
        names: tuple[w.Bottleneck, ...] = ("host_io", "memory_bandwidth")
        t_job, idx = k.roofline_seconds(
            [chunk_bytes, chunk_bytes * w.ETL_BYTES_PER_BYTE], [host, hbm * w.ETL_BANDWIDTH_EFFICIENCY]
        )
        per_gpu = chunk * w.DATA_WORKING_SET_FACTOR
        breakdown = {"partition_working_set": per_gpu}
        flops, moved = 0.0, r.dataset_gb * 1e9 * w.ETL_BYTES_PER_BYTE
        sources: tuple[str, ...] = ("etl", "host_io")
    elif r.operation == "embedding":
        if r.precision not in _FLOAT_PRECISIONS:
            raise ValidationFailed("embedding runs in fp32, fp16, bf16 or fp8", details={"field": "precision"})
        names = ("host_io", "compute")
        tokens_chunk = chunk_bytes / w.BYTES_PER_TOKEN
        flops_chunk = 2.0 * r.model_params_b * 1e9 * tokens_chunk
        t_job, idx = k.roofline_seconds(
            [chunk_bytes, flops_chunk], [host, cols.tflops(r.precision) * 1e12 * w.EMBEDDING_MFU]
        )
        blocked = cols.precision_blocked(r.precision)
        weights = r.model_params_b * w.BYTES_PER_PARAM[r.precision]
        per_gpu = weights + w.EMBEDDING_ACTIVATION_GB
        breakdown = {"weights": weights, "activations": w.EMBEDDING_ACTIVATION_GB}
        flops, moved = flops_chunk * jobs, r.dataset_gb * 1e9
        with np.errstate(divide="ignore"):
            tokens_per_s = np.where(t_job > 0, tokens_chunk / t_job, np.inf)
        sources = ("embedding", "host_io", "bytes_per_param", "precision_support")
    else:
        names = ("host_io", "memory_bandwidth", "compute")
        t_job, idx = k.roofline_seconds(
            [chunk_bytes, chunk_bytes * w.DEDUPE_BYTES_PER_BYTE, chunk_bytes * w.DEDUPE_OPS_PER_BYTE],
            [host, hbm * w.ETL_BANDWIDTH_EFFICIENCY, cols.fp32_tflops * 1e12 * w.DEDUPE_COMPUTE_EFFICIENCY],
        )
        per_gpu = chunk * w.DATA_WORKING_SET_FACTOR
        breakdown = {"partition_working_set": per_gpu}
        flops, moved = r.dataset_gb * 1e9 * w.DEDUPE_OPS_PER_BYTE, r.dataset_gb * 1e9 * w.DEDUPE_BYTES_PER_BYTE
        sources = ("dedupe", "host_io")
    plan = k.plan_replicated(
        cols.usable_gb,
        per_gpu_gb=per_gpu,
        seconds_per_job=t_job,
        jobs=jobs,
        max_gpus=r.max_gpus,
        gpu_count=r.gpu_count,
        deadline_s=_deadline_s(r.deadline_hours),
        blocked=blocked,
    )
    requirement = _requirement(
        "data_processing",
        parallelism="replicated",
        breakdown=breakdown,
        flops=flops,
        bytes_moved=moved,
        jobs=jobs,
        assumptions=[
            f"{r.operation} over {r.dataset_gb:g} GB in {jobs} partition(s) of {chunk:g} GB, one per GPU at a time",
            f"host-to-GPU transfer at {w.HOST_IO_GBPS:g} GB/s per GPU; object storage not counted",
        ],
        sources=(*sources, "usable_memory_fraction"),
    )
    with np.errstate(divide="ignore"):
        gb_per_hour = np.where(t_job > 0, chunk / t_job * 3600.0, np.inf)
    return _Built(
        requirement=requirement,
        plan=plan,
        bound=_bounds(names, idx),
        tokens_per_s=tokens_per_s,
        metrics={"gb_per_hour_per_gpu": gb_per_hour},
    )
