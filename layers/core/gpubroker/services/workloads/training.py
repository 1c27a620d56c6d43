"""Training and fine-tuning: model states sharded (ZeRO-3/FSDP), activations per GPU, time from 6ND (4ND for
LoRA/QLoRA) at the given MFU; a deadline buys GPUs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gpubroker.domain.precision import compute_path
from gpubroker.domain.workloads import (
    ACTIVATION_LAYER_BYTES,
    BETA_DATA_PARALLEL,
    CHECKPOINT_LAYER_BYTES,
    MASTER_WEIGHT_BYTES,
    OPTIMIZER_STATE_BYTES,
    QLORA_BYTES_PER_PARAM,
    llama_shape,
)
from gpubroker.services.workloads.common import GpuColumns, PlannedWorkload, deadline_s, requirement, sharded_plan
from gpumath import workload as kernels

if TYPE_CHECKING:
    from gpubroker.domain.workloads import Training


def plan(request: Training, gpus: GpuColumns) -> PlannedWorkload:
    shape = llama_shape(request.params_b)
    n_params = request.params_b * 1e9
    compute_bytes = 4.0 if request.precision == "fp32" else 2.0
    master = 0.0 if request.precision == "fp32" else MASTER_WEIGHT_BYTES
    per_trainable = compute_bytes * 2 + master + OPTIMIZER_STATE_BYTES[request.optimizer]
    if request.method == "full":
        trainable, frozen, frozen_bytes = n_params, 0.0, 0.0
    else:
        trainable = request.lora_fraction * n_params
        frozen = n_params
        frozen_bytes = QLORA_BYTES_PER_PARAM if request.method == "qlora" else compute_bytes
    states_gb = trainable * per_trainable / 1e9
    frozen_gb = frozen * frozen_bytes / 1e9
    sbh = float(request.seq_len) * request.micro_batch_size * shape.hidden * (compute_bytes / 2.0)
    if request.gradient_checkpointing:
        act_gb = sbh * (CHECKPOINT_LAYER_BYTES * shape.n_layers + ACTIVATION_LAYER_BYTES) / 1e9
    else:
        act_gb = sbh * ACTIVATION_LAYER_BYTES * shape.n_layers / 1e9
    tokens = request.dataset_tokens_b * 1e9 * request.epochs
    flops_factor = 6.0 if request.method == "full" else 4.0
    flops = flops_factor * n_params * tokens
    seconds_1 = kernels.compute_seconds(gpus.tflops(request.precision), flops, request.utilisation)
    beta = BETA_DATA_PARALLEL
    kernel_plan = sharded_plan(
        gpus,
        request,
        sharded_gb=states_gb + frozen_gb,
        replicated_gb=act_gb,
        seconds_1=seconds_1,
        beta=beta,
        constraint_1=seconds_1,
        limit=deadline_s(request.deadline_hours),
    )
    steps = tokens / (request.seq_len * request.micro_batch_size)
    breakdown = {"trainable_states": states_gb, "activations_per_gpu": act_gb}
    if frozen:
        breakdown["frozen_weights"] = frozen_gb
    evaluated = np.maximum(kernel_plan.evaluated_gpus, 1)
    speedup = kernels.speedup(evaluated, beta)
    checkpointing = "with" if request.gradient_checkpointing else "without"
    needs = requirement(
        request,
        parallelism="sharded",
        breakdown=breakdown,
        flops=flops,
        bytes_moved=2.0 * (states_gb + frozen_gb) * 1e9 * steps,
        jobs=1,
        assumptions=[
            f"{tokens:.4g} tokens = {request.dataset_tokens_b:g}B x {request.epochs:g} epochs; "
            f"FLOPs = {flops_factor:g} N D",
            f"{per_trainable:g} B per trainable parameter ({request.precision}, {request.optimizer}); "
            f"{trainable:.4g} trainable of {n_params:.4g}",
            f"model states sharded over the GPUs (ZeRO-3/FSDP); activations per GPU for micro-batch "
            f"{request.micro_batch_size} x {request.seq_len} tokens, {checkpointing} gradient checkpointing",
            f"MFU {request.utilisation:g} of the {compute_path(request.precision)} peak; optimizer read/write once "
            f"per step of {request.micro_batch_size * request.seq_len} tokens (bytes_moved)",
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
    return PlannedWorkload(
        requirement=needs,
        plan=kernel_plan,
        bottlenecks=["compute"] * gpus.count,
        tokens_per_s=tokens / (seconds_1 / speedup),
        metrics={"parallel_efficiency": speedup / evaluated},
        scaling_beta=beta,
    )
