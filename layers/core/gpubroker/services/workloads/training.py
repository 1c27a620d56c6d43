"""Training and fine-tuning: model states sharded (ZeRO-3/FSDP), activations per GPU, time from 6ND (4ND for
LoRA/QLoRA) at the given MFU; a deadline buys GPUs."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from gpubroker.domain.precision import compute_path
from gpubroker.domain.workloads import (
    ACTIVATION_LAYER_BYTES,
    ATTENTION_TRAINING_FLOPS,
    BETA_DATA_PARALLEL,
    CHECKPOINT_LAYER_BYTES,
    CHECKPOINT_WRITE_GBPS,
    DEFAULT_MFU,
    FP8_MFU_RATIO,
    FSDP_TRAFFIC_PER_STEP,
    MASTER_WEIGHT_BYTES,
    OPTIMIZER_STATE_BYTES,
    PAGED_OPTIMIZERS,
    QLORA_BYTES_PER_PARAM,
    TRAINING_MFU,
)
from gpubroker.services.workloads.common import GpuColumns, PlannedWorkload, deadline_s, requirement, sharded_plan
from gpumath import workload as kernels

if TYPE_CHECKING:
    from gpubroker.domain.workloads import Training
    from gpumath.arrays import F64, I64


def training_mfu(request: Training, gpus: GpuColumns) -> F64:
    """MFU per GPU (g,): the request's, or the measured figure of the GPU's generation (times the fp8 ratio)."""
    if request.utilisation is not None:
        return gpus.constant(request.utilisation)
    ratio = FP8_MFU_RATIO if compute_path(request.precision) == "fp8" else 1.0
    return np.array([TRAINING_MFU.get(a, DEFAULT_MFU) * ratio for a in gpus.architectures], dtype=np.float64)


def _checkpoint_share(request: Training, checkpoint_gb: float, gpus: F64 | I64) -> F64:
    """Checkpoint write time as a share of training time at ``gpus`` (g,): one write per interval."""
    if request.checkpoint_interval_hours is None:
        return np.zeros(np.shape(gpus))
    write_s = checkpoint_gb / (np.asarray(gpus, dtype=np.float64) * CHECKPOINT_WRITE_GBPS)
    out: F64 = write_s / (request.checkpoint_interval_hours * 3600.0)
    return out


def _network_seconds(request: Training, weight_bytes: float, tokens: float, gpus: I64) -> F64:
    """FSDP traffic time beyond one node (g,): steps x k x the weights' bytes x (n-1)/n at each GPU's share of the
    node's network; zero within a node or when no inter-node bandwidth is given (overlapped with compute)."""
    n = np.asarray(gpus, dtype=np.float64)
    if request.internode_gbps is None:
        return np.zeros(n.shape)
    traffic = FSDP_TRAFFIC_PER_STEP + (1.0 if request.gradient_checkpointing else 0.0)
    steps = tokens / (request.seq_len * request.micro_batch_size * n)
    per_gpu_bps = request.internode_gbps * 1e9 / 8.0 / request.gpus_per_node
    out: F64 = np.where(n > request.gpus_per_node, steps * traffic * weight_bytes * (n - 1.0) / n / per_gpu_bps, 0.0)
    return out


def plan(request: Training, gpus: GpuColumns) -> PlannedWorkload:
    shape = request.shape()
    n_params = request.total_params_b * 1e9
    compute_bytes = 4.0 if request.precision == "fp32" else 2.0
    master = 0.0 if request.precision == "fp32" or not request.mixed_precision else MASTER_WEIGHT_BYTES
    states = OPTIMIZER_STATE_BYTES[request.optimizer]
    gradients = 0.0 if request.optimizer_in_backward else compute_bytes
    # on the GPU: paged optimizer states live in unified memory evicted to CPU RAM under pressure
    per_trainable = compute_bytes + gradients + master + (0.0 if request.optimizer in PAGED_OPTIMIZERS else states)
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
    active = request.compute_params_b * 1e9
    attention = float(shape.n_layers) * shape.hidden * request.seq_len
    flops = (flops_factor * active + ATTENTION_TRAINING_FLOPS * attention) * tokens
    forward = (2.0 * active + 4.0 * attention) * tokens  # one forward pass over the training tokens
    eval_flops = forward * request.eval_fraction
    # a given utilisation is MFU (model FLOPs only); the measured default is the hardware's, which also runs the
    # forward pass gradient checkpointing recomputes
    recompute = forward if request.gradient_checkpointing and request.utilisation is None else 0.0
    mfu = training_mfu(request, gpus)
    train_1 = kernels.compute_seconds(gpus.tflops(request.precision) * mfu, flops + recompute + eval_flops, 1.0)
    checkpoint_gb = trainable * (compute_bytes + master + states) / 1e9
    beta = BETA_DATA_PARALLEL
    usable = gpus.usable_gb
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = kernels.valid_gpu_count((states_gb + frozen_gb) / np.maximum(usable - act_gb, 1e-9))
    # the checkpoint share at the smallest count that fits bounds it at any larger count: the deadline holds
    worst = _checkpoint_share(request, checkpoint_gb, np.where(np.isfinite(fit), fit, 1.0))
    kernel_plan = sharded_plan(
        gpus,
        request,
        sharded_gb=states_gb + frozen_gb,
        replicated_gb=act_gb,
        seconds_1=train_1 * (1.0 + worst),
        beta=beta,
        constraint_1=train_1 * (1.0 + worst),
        limit=deadline_s(request.deadline_hours),
    )
    at = np.maximum(kernel_plan.evaluated_gpus, 1)
    share = _checkpoint_share(request, checkpoint_gb, at)
    seconds_1 = train_1 * (1.0 + share)
    network_s = _network_seconds(
        request, (n_params if request.method == "full" else frozen) * compute_bytes, tokens, at
    )
    kernel_plan = replace(
        kernel_plan,
        seconds=np.where(
            kernel_plan.feasible, np.maximum(seconds_1 / kernels.speedup(at, beta), network_s), kernel_plan.seconds
        ),
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
        flops=flops + eval_flops,
        bytes_moved=2.0 * (states_gb + frozen_gb) * 1e9 * steps,
        jobs=1,
        assumptions=[
            f"{tokens:.4g} tokens = {request.dataset_tokens_b:g}B x {request.epochs:g} epochs; FLOPs per token "
            f"= {flops_factor:g} N + {ATTENTION_TRAINING_FLOPS:g} L d s (attention at {request.seq_len} tokens)"
            + (f", N = {request.compute_params_b:g}B active of {request.total_params_b:g}B" if request.is_moe else ""),
            f"evaluation: {request.eval_fraction:g} of the training tokens in forward passes; checkpoints: "
            + (
                "none counted"
                if request.checkpoint_interval_hours is None
                else f"{checkpoint_gb:.4g} GB every {request.checkpoint_interval_hours:g} h at "
                f"{CHECKPOINT_WRITE_GBPS:g} GB/s per GPU"
            ),
            f"{per_trainable:g} B per trainable parameter on the GPU ({request.precision}, {request.optimizer}"
            + (", states paged to CPU RAM" if request.optimizer in PAGED_OPTIMIZERS else "")
            + (", step in the backward pass" if request.optimizer_in_backward else "")
            + ("" if request.mixed_precision else ", no fp32 master copy")
            + f"); {trainable:.4g} trainable of {n_params:.4g}",
            "network: "
            + (
                "not a bottleneck (no internode_gbps)"
                if request.internode_gbps is None
                else f"FSDP traffic beyond {request.gpus_per_node} GPUs at {request.internode_gbps:g} Gbit/s per node, "
                "overlapped with compute"
            ),
            f"model states sharded over the GPUs (ZeRO-3/FSDP); activations per GPU for micro-batch "
            f"{request.micro_batch_size} x {request.seq_len} tokens, {checkpointing} gradient checkpointing",
            (
                f"MFU {request.utilisation:g}"
                if request.utilisation is not None
                else "MFU measured per GPU generation (Ampere 0.45, Hopper 0.40, ...)"
                + (f", x {FP8_MFU_RATIO:g} in fp8" if compute_path(request.precision) == "fp8" else "")
            )
            + f" of the {compute_path(request.precision)} peak; optimizer read/write once per step of "
            f"{request.micro_batch_size * request.seq_len} tokens (bytes_moved)",
        ],
        sources=(
            "training_flops",
            "attention_flops",
            "checkpoint",
            "mfu",
            "mfu_by_generation",
            "training_memory",
            "optimizer_states",
            "fsdp_network",
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
        tokens_per_s=tokens / np.maximum(seconds_1 / speedup, network_s),
        metrics={"parallel_efficiency": speedup / evaluated, "mfu": mfu},
        scaling_beta=beta,
    )
