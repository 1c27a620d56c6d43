"""LLM inference: weights (all experts of a mixture), KV cache and a per-GPU runtime reserve in the engine's share
of memory; decode bound by bandwidth (weights, touched experts, the KV cache read) or compute (active parameters),
prefill by compute; the GPUs serve as one tensor-parallel group or as replicas, whichever is faster; a tokens/s
target buys GPUs.

Two serving modes (``request.mode``): ``latency`` reserves the longest context for each of ``concurrency``
sequences; ``throughput`` batches continuously over a paged KV cache that holds each sequence at its mean length
in flight, as many as the free memory holds (``docs/workloads.md``)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from gpubroker.domain.precision import BYTES_PER_PARAM, compute_path
from gpubroker.domain.workloads import (
    ACTIVATION_BYTES_PER_TOKEN_HIDDEN,
    BETA_TENSOR_PARALLEL,
    DECODE_BANDWIDTH_EFFICIENCY,
    DECODE_COMPUTE_SHARE,
    KV_BYTES,
    MAX_NUM_SEQS,
    PREFILL_CHUNK_TOKENS,
    PREFILL_COMPUTE_EFFICIENCY,
    PREFILL_COMPUTE_EFFICIENCY_BY_ARCH,
    RUNTIME_RESERVE_GB,
    USABLE_MEMORY_FRACTION,
    WEIGHT_ONLY_DECODE_EFFICIENCY,
)
from gpubroker.services.workloads.common import GpuColumns, PlannedWorkload, bottlenecks_at, requirement, sharded_plan
from gpumath import workload as kernels

if TYPE_CHECKING:
    from gpubroker.domain.workloads import LlmInference, ModelShape, WorkloadRequirement


def serving_model(request: LlmInference, shape: ModelShape) -> kernels.ServingModel:
    """The GPU-independent side of the request: weights split into dense and routed-expert parts, KV per token,
    the runtime reserve, FLOPs per decoded token and per prefilled prompt (see ``docs/workloads.md``)."""
    bytes_per_param = BYTES_PER_PARAM[request.precision]
    total_b, active_b = request.total_params_b, request.compute_params_b
    if request.is_moe:
        n_experts, per_token = request.experts()
        expert_b = (total_b - active_b) / (n_experts - per_token)  # one expert's parameters (all layers)
        routed_b = min(total_b, expert_b * n_experts)
        share = per_token / n_experts
    else:
        routed_b, share = 0.0, 0.0
    prompt, output = request.mean_prompt_tokens, request.output_tokens
    throughput = request.mode == "throughput"
    in_flight = prompt + output / 2.0
    layers_hidden = shape.n_layers * shape.hidden
    cap = MAX_NUM_SEQS if "concurrency" not in request.model_fields_set else request.concurrency
    return kernels.ServingModel(
        dense_gb=(total_b - routed_b) * bytes_per_param,
        expert_gb=routed_b * bytes_per_param,
        expert_share=share,
        kv_gb_per_token=2.0 * shape.n_layers * shape.n_kv_heads * shape.head_dim * KV_BYTES[request.precision] / 1e9,
        kv_read_tokens=in_flight,
        kv_held_tokens=in_flight if throughput else float(request.context_tokens),
        reserve_gb=RUNTIME_RESERVE_GB + PREFILL_CHUNK_TOKENS * shape.hidden * ACTIVATION_BYTES_PER_TOKEN_HIDDEN / 1e9,
        decode_flops_per_token=2.0 * active_b * 1e9 + 4.0 * layers_hidden * in_flight,
        prefill_flops_per_seq=2.0 * active_b * 1e9 * prompt + 2.0 * layers_hidden * prompt**2,
        output_tokens=float(output),
        requests=float(request.requests or (MAX_NUM_SEQS if throughput else request.concurrency)),
        fixed_batch=0 if throughput else request.concurrency,
        batch_cap=cap,
    )


def decode_efficiency(request: LlmInference) -> float:
    """The share of peak bandwidth decode reaches: lower for weight-only formats (dequantised on the fly)."""
    return WEIGHT_ONLY_DECODE_EFFICIENCY if request.precision in ("int8", "int4") else DECODE_BANDWIDTH_EFFICIENCY


def plan(request: LlmInference, gpus: GpuColumns) -> PlannedWorkload:
    gpus = replace(gpus, memory_share=request.gpu_memory_utilization)
    shape = request.shape()
    model = serving_model(request, shape)
    weights_gb = model.dense_gb + model.expert_gb
    throughput = request.mode == "throughput"
    kv_min_gb = model.kv_gb_per_token * (
        request.context_tokens if throughput else request.context_tokens * request.concurrency
    )
    compute = np.array(
        [PREFILL_COMPUTE_EFFICIENCY_BY_ARCH.get(a, PREFILL_COMPUTE_EFFICIENCY) for a in gpus.architectures]
    )
    tflops = gpus.tflops(request.precision) * compute  # the compute terms at the share of the peak reached
    beta = BETA_TENSOR_PARALLEL
    efficiency = {
        "bandwidth_efficiency": decode_efficiency(request),
        "compute_efficiency": 1.0,
        "beta": beta,
        "decode_compute_share": DECODE_COMPUTE_SHARE,
    }
    # the smallest tensor-parallel group that holds the model: its time and rate, scaled to one GPU, size the count
    usable = gpus.usable_gb
    cap = float(kernels.largest_valid_count(request.max_gpus))
    free = usable - model.reserve_gb
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = kernels.valid_gpu_count(
            np.where(free > 0, (weights_gb + kv_min_gb) / np.where(free > 0, free, 1.0), np.inf)
        )
    # a fixed count is the group's size when the smallest valid count above the fit exceeds the cap (12 of 12)
    fixed = 0.0 if request.gpu_count is None else float(request.gpu_count)
    fit_n = np.where(fit <= max(cap, fixed), fit, fixed).astype(np.int64)
    smallest = kernels.llm_serving(gpus.bandwidth_gbps, tflops, usable, fit_n, model, **efficiency)
    scale = kernels.speedup(np.maximum(fit_n, 1), beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_token_1 = np.where(smallest.tokens_per_s > 0, scale / smallest.tokens_per_s, np.inf)
    target = request.target_tokens_per_s
    kernel_plan = sharded_plan(
        gpus,
        request,
        sharded_gb=weights_gb + kv_min_gb,
        replicated_gb=model.reserve_gb,
        seconds_1=np.where(fit_n > 0, smallest.seconds * scale, np.inf),
        beta=beta,
        constraint_1=per_token_1,
        limit=None if target is None else 1.0 / target,
    )
    serving = kernels.llm_serving(gpus.bandwidth_gbps, tflops, usable, kernel_plan.gpus, model, min_tokens_per_s=target,
                                  **efficiency)  # fmt: skip
    chosen = serving.tp > 0
    kernel_plan = replace(kernel_plan, seconds=np.where(chosen, serving.seconds, kernel_plan.seconds))
    replicas = np.where(chosen, kernel_plan.gpus // np.maximum(serving.tp, 1), 0)
    return PlannedWorkload(
        requirement=_requirement(request, shape, model, kv_min_gb),
        plan=kernel_plan,
        bottlenecks=bottlenecks_at(("memory_bandwidth", "compute"), serving.bound),
        tokens_per_s=serving.tokens_per_s,
        metrics={
            "ttft_s": serving.ttft_s,
            "decode_step_ms": serving.step_s * 1e3,
            "batch_per_replica": serving.batch,
            "tensor_parallel": serving.tp.astype(np.float64),
            "replicas": replicas.astype(np.float64),
            "memory_per_gpu_in_layout_gb": serving.memory_per_gpu_gb,
            "output_tokens": gpus.constant(model.requests * model.output_tokens),
        },
        unit_costs={"cost_per_million_output_tokens": ("output_tokens", 1e6)},
        notes=[
            _layout_note(int(t), int(r), float(b), throughput) if t > 0 else ""
            for t, r, b in zip(serving.tp, replicas, serving.batch, strict=True)
        ],
    )


def _layout_note(tp: int, replicas: int, batch: float, throughput: bool) -> str:
    layout = f"tensor parallel {tp}" if replicas <= 1 else f"{replicas} replicas x tensor parallel {tp}"
    batching = "continuous batching" if throughput else "a fixed batch"
    return f"layout: {layout}, {batch:g} sequences per replica ({batching}): the fastest layout that fits"


def _requirement(
    request: LlmInference, shape: ModelShape, model: kernels.ServingModel, kv_min_gb: float
) -> WorkloadRequirement:
    prompt, output = request.mean_prompt_tokens, request.output_tokens
    requests = int(model.requests)
    kv_token_mb = model.kv_gb_per_token * 1e3
    if request.mode == "throughput":
        kv_line = (
            f"throughput mode: continuous batching over a paged KV cache ({kv_token_mb:.3f} MB per token) holding "
            f"each sequence at its mean {prompt + output / 2:g} tokens in flight; the batch is what the free memory "
            f"holds, at most {model.batch_cap}; memory must hold one {request.context_tokens}-token sequence"
        )
    else:
        kv_line = (
            f"latency mode: KV cache {kv_token_mb:.3f} MB per token reserved for {request.context_tokens} tokens "
            f"x {request.concurrency} sequences; {requests} requests in waves of {request.concurrency}"
        )
    moe_line = []
    if request.is_moe:
        n_experts, per_token = request.experts()
        moe_line = [
            f"mixture of experts: all {request.total_params_b:g}B parameters held, {request.compute_params_b:g}B "
            f"computed per token; a decode step reads the experts its batch routes to ({per_token} of "
            f"{n_experts} per token, uniform routing); experts are split over the GPUs with the other weights"
        ]
    named = [f"architecture of {request.model} from the model table"] if request.model else []
    path = compute_path(request.precision)
    return requirement(
        request,
        parallelism="sharded",
        breakdown={
            "weights": model.dense_gb + model.expert_gb,
            "kv_cache": kv_min_gb,
            "runtime_per_gpu": model.reserve_gb,
        },
        flops=requests * (model.prefill_flops_per_seq + output * model.decode_flops_per_token),
        bytes_moved=math.ceil(requests / max(1, request.concurrency))
        * output
        * 1e9
        * (model.dense_gb + model.expert_gb + model.kv_gb_per_token * model.kv_read_tokens * request.concurrency),
        jobs=1,
        assumptions=[
            *named,
            f"model shape: {shape.n_layers} layers, hidden {shape.hidden}, {shape.n_kv_heads} KV heads x "
            f"{shape.head_dim} (Llama-like defaults for the unset fields)",
            *moe_line,
            kv_line,
            f"mean prompt {prompt} + output {output} tokens; a decode step reads the weights once and each "
            "sequence's KV cache at its mean length",
            f"decode at {decode_efficiency(request):.0%} of peak bandwidth; prefill at "
            f"{PREFILL_COMPUTE_EFFICIENCY:.0%} of the {path} peak (Ampere "
            f"{PREFILL_COMPUTE_EFFICIENCY_BY_ARCH['Ampere']:.0%}), decode's compute at {DECODE_COMPUTE_SHARE:g} of "
            f"that; tensor parallel t runs t^{BETA_TENSOR_PARALLEL} times faster; replicas split the requests",
            f"the engine uses {USABLE_MEMORY_FRACTION:.0%} of each GPU's memory (datasheet GB = GiB), "
            f"{model.reserve_gb:.2f} GB of it per GPU for the runtime and activations",
        ],
        sources=(
            "bytes_per_param",
            "kv_cache",
            "paged_kv",
            "moe",
            "llama_shape",
            "usable_memory_fraction",
            "memory_label",
            "runtime_reserve",
            "activation_workspace",
            "decode_bandwidth_efficiency",
            "weight_only_decode",
            "prefill_compute_efficiency",
            "prefill_by_generation",
            "decode_flops",
            "scaling",
            "serving_layouts",
            "gpu_counts",
            "fp8_rate",
            "precision_support",
        ),
    )
