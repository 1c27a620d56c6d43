"""Image generation: every GPU holds the whole diffusion pipeline and renders batches independently; time from the
family's FLOPs per step per megapixel."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from gpubroker.domain.precision import BYTES_PER_PARAM, compute_path
from gpubroker.domain.workloads import (
    DIFFUSION_ACTIVATION_GB_PER_MP,
    DIFFUSION_STEP_OVERHEAD_S,
    DIFFUSION_UTILISATION,
    IMAGE_FAMILY,
)
from gpubroker.services.workloads.common import GpuColumns, PlannedWorkload, replicated_plan, requirement
from gpumath import workload as kernels

if TYPE_CHECKING:
    from gpubroker.domain.workloads import ImageGeneration


def plan(request: ImageGeneration, gpus: GpuColumns) -> PlannedWorkload:
    family = IMAGE_FAMILY[request.model_family]
    steps = request.steps or family.default_steps
    megapixels = request.width * request.height / 1e6
    weights_gb = (family.denoiser_b + family.other_b) * BYTES_PER_PARAM[request.precision]
    act_gb = DIFFUSION_ACTIVATION_GB_PER_MP * megapixels * request.batch
    flops_batch = family.tflop_per_step_mp * 1e12 * megapixels * steps * request.batch
    # each denoising step also costs a fixed time whatever the batch (kernel launches, the scheduler, Python)
    seconds_batch = (
        kernels.compute_seconds(gpus.tflops(request.precision), flops_batch, DIFFUSION_UTILISATION)
        + steps * DIFFUSION_STEP_OVERHEAD_S
    )
    jobs = math.ceil(request.images / request.batch)
    kernel_plan = replicated_plan(
        gpus,
        request,
        per_gpu_gb=weights_gb + act_gb,
        seconds_per_job=seconds_batch,
        jobs=jobs,
        blocked=gpus.precision_blocked(request.precision),
    )
    needs = requirement(
        request,
        parallelism="replicated",
        breakdown={"weights": weights_gb, "activations": act_gb},
        flops=flops_batch * jobs,
        bytes_moved=family.denoiser_b * BYTES_PER_PARAM[request.precision] * 1e9 * steps * jobs,
        jobs=jobs,
        assumptions=[
            f"{request.model_family}: {family.denoiser_b + family.other_b:g}B parameters incl. text encoders and "
            f"VAE, {family.tflop_per_step_mp:g} TFLOP per step per megapixel",
            f"{steps} steps at {request.width}x{request.height}, {jobs} batch(es) of {request.batch}; each GPU "
            "holds the pipeline",
            f"each step {DIFFUSION_STEP_OVERHEAD_S * 1e3:g} ms + its FLOPs at {DIFFUSION_UTILISATION:.0%} of the "
            f"{compute_path(request.precision)} peak; text encoding and VAE decode time not counted; FLOPs scale "
            "linearly with pixels",
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
    return PlannedWorkload(
        requirement=needs,
        plan=kernel_plan,
        bottlenecks=["compute"] * gpus.count,
        metrics={"seconds_per_image": seconds_batch / request.batch, "images": gpus.constant(float(request.images))},
        unit_costs={"cost_per_image": ("images", 1.0)},
    )
