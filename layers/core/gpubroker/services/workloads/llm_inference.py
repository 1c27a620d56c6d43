"""LLM inference: weights + KV cache + overhead sharded over tensor-parallel GPUs; decode bound by bandwidth or
compute, prefill by compute; a tokens/s target buys GPUs."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from gpubroker.domain.precision import BYTES_PER_PARAM, compute_path
from gpubroker.domain.workloads import (
    BETA_TENSOR_PARALLEL,
    DECODE_BANDWIDTH_EFFICIENCY,
    INFERENCE_OVERHEAD_FRACTION,
    KV_BYTES,
    PREFILL_COMPUTE_EFFICIENCY,
    USABLE_MEMORY_FRACTION,
)
from gpubroker.services.workloads.common import GpuColumns, PlannedWorkload, bottlenecks_at, requirement, sharded_plan
from gpumath import workload as kernels

if TYPE_CHECKING:
    from gpubroker.domain.workloads import LlmInference


def plan(request: LlmInference, gpus: GpuColumns) -> PlannedWorkload:
    shape = request.shape()
    n_params = request.params_b * 1e9
    weights_gb = request.params_b * BYTES_PER_PARAM[request.precision]
    kv_per_token = 2.0 * shape.n_layers * shape.n_kv_heads * shape.head_dim * KV_BYTES[request.precision]
    kv_gb = kv_per_token * request.context_tokens * request.concurrency / 1e9
    overhead_gb = INFERENCE_OVERHEAD_FRACTION * weights_gb
    prompt = request.context_tokens - request.output_tokens
    avg_ctx = prompt + request.output_tokens / 2.0
    bytes_per_step = weights_gb * 1e9 + kv_per_token * avg_ctx * request.concurrency
    flops_per_token = 2.0 * n_params + 4.0 * shape.n_layers * shape.hidden * avg_ctx
    prefill_flops = 2.0 * n_params * prompt + 2.0 * shape.n_layers * shape.hidden * prompt**2
    requests = request.requests or request.concurrency
    waves = math.ceil(requests / request.concurrency)

    tflops = gpus.tflops(request.precision)
    step_1, bound = kernels.llm_decode(
        gpus.bandwidth_gbps,
        tflops,
        bytes_per_step=bytes_per_step,
        flops_per_step=flops_per_token * request.concurrency,
        bandwidth_efficiency=DECODE_BANDWIDTH_EFFICIENCY,
        compute_efficiency=PREFILL_COMPUTE_EFFICIENCY,
    )
    prefill_1 = kernels.compute_seconds(tflops, prefill_flops * request.concurrency, PREFILL_COMPUTE_EFFICIENCY)
    job_1 = waves * (prefill_1 + request.output_tokens * step_1)
    target = request.target_tokens_per_s
    beta = BETA_TENSOR_PARALLEL
    kernel_plan = sharded_plan(
        gpus,
        request,
        sharded_gb=weights_gb + kv_gb + overhead_gb,
        seconds_1=job_1,
        beta=beta,
        constraint_1=step_1,
        limit=None if target is None else request.concurrency / target,
    )
    speedup = kernels.speedup(np.maximum(kernel_plan.evaluated_gpus, 1), beta)
    path = compute_path(request.precision)
    needs = requirement(
        request,
        parallelism="sharded",
        breakdown={"weights": weights_gb, "kv_cache": kv_gb, "overhead": overhead_gb},
        flops=requests * (prefill_flops + request.output_tokens * flops_per_token),
        bytes_moved=waves * request.output_tokens * bytes_per_step,
        jobs=1,
        assumptions=[
            f"model shape: {shape.n_layers} layers, hidden {shape.hidden}, {shape.n_kv_heads} KV heads x "
            f"{shape.head_dim} (Llama-like defaults for the unset fields)",
            f"KV cache {kv_per_token / 1e6:.3f} MB per token at {KV_BYTES[request.precision]:g} B per element, "
            f"reserved for {request.context_tokens} tokens x {request.concurrency} sequences",
            f"{requests} requests in {waves} wave(s) of {request.concurrency}; prompt {prompt} + output "
            f"{request.output_tokens} tokens",
            f"decode reads the weights once per step at {DECODE_BANDWIDTH_EFFICIENCY:.0%} of peak bandwidth; "
            f"prefill at {PREFILL_COMPUTE_EFFICIENCY:.0%} of the {path} peak",
            f"{USABLE_MEMORY_FRACTION:.0%} of each GPU's memory is usable",
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
    return PlannedWorkload(
        requirement=needs,
        plan=kernel_plan,
        bottlenecks=bottlenecks_at(("memory_bandwidth", "compute"), bound),
        tokens_per_s=request.concurrency * speedup / step_1,
        metrics={
            "ttft_s": prefill_1 / speedup,
            "decode_step_ms": step_1 / speedup * 1e3,
            "output_tokens": gpus.constant(float(requests * request.output_tokens)),
        },
        unit_costs={"cost_per_million_output_tokens": ("output_tokens", 1e6)},
        scaling_beta=beta,
    )
