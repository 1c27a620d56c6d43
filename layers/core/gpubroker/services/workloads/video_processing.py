"""Video processing. Transcode, upscale and frame interpolation: frames are independent jobs spread over GPUs, each
GPU with its own working set (transcoding on the NVENC engines). Diffusion video: one DiT job sharded over
sequence-parallel GPUs."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from gpubroker.domain.precision import BYTES_PER_PARAM, compute_path
from gpubroker.domain.workloads import (
    AV1_ENCODE_ARCHITECTURES,
    BETA_TENSOR_PARALLEL,
    CODEC_SPEED,
    INTERPOLATION_FLOP_PER_PIXEL,
    NVENC_ENGINES,
    NVENC_FPS_1080P,
    UPSCALE_FLOP_PER_INPUT_PIXEL,
    UPSCALE_UTILISATION,
    VIDEO_ACTIVATION_BYTES_PER_TOKEN_DIM,
    VIDEO_DIFFUSION_UTILISATION,
    VIDEO_DIFFUSION_UTILISATION_BY_ARCH,
    VIDEO_SESSION_MEMORY_GB,
)
from gpubroker.services.workloads.common import (
    CODEC_UNSUPPORTED,
    NO_HARDWARE_ENCODER,
    GpuColumns,
    PlannedWorkload,
    deadline_s,
    per_second,
    replicated_plan,
    requirement,
    sharded_plan,
)
from gpumath import workload as kernels

if TYPE_CHECKING:
    from gpubroker.domain.workloads import Bottleneck, VideoProcessing
    from gpumath.arrays import F64, I8


class _FrameJobs(NamedTuple):
    """The per-frame work of a replicated task, over every GPU."""

    seconds_per_job: F64
    jobs: int
    working_set_gb: float
    blocked: I8
    flops: float
    bottleneck: Bottleneck
    note: str
    sources: tuple[str, ...]


def plan(request: VideoProcessing, gpus: GpuColumns) -> PlannedWorkload:
    frames = max(1, math.ceil(request.fps * request.duration_s))
    if request.task == "diffusion_video":
        return _diffusion(request, gpus, frames)
    if request.task == "transcode":
        work = _transcode(request, gpus, frames)
    elif request.task == "upscale":
        work = _upscale(request, gpus, frames)
    else:
        work = _interpolation(request, gpus, frames)
    kernel_plan = replicated_plan(
        gpus,
        request,
        per_gpu_gb=work.working_set_gb,
        seconds_per_job=work.seconds_per_job,
        jobs=work.jobs,
        blocked=work.blocked,
    )
    needs = requirement(
        request,
        parallelism="replicated",
        breakdown={"working_set": work.working_set_gb},
        flops=work.flops,
        bytes_moved=_pixels(request) * 1.5 * work.jobs,  # 8-bit 4:2:0 frames in
        jobs=work.jobs,
        assumptions=[
            f"{request.task}: {frames} input frames ({request.width}x{request.height} at {request.fps:g} fps for "
            f"{request.duration_s:g} s)",
            work.note,
            "frames (or segments) are independent: GPUs split them, each holds its own working set",
        ],
        sources=(*work.sources, "usable_memory_fraction"),
    )
    seconds_per_frame = work.seconds_per_job
    return PlannedWorkload(
        requirement=needs,
        plan=kernel_plan,
        bottlenecks=[work.bottleneck] * gpus.count,
        metrics={
            "seconds_per_frame": seconds_per_frame,
            "realtime_factor_1gpu": per_second(1.0 / request.fps, seconds_per_frame * work.jobs / frames),
        },
    )


def _pixels(request: VideoProcessing) -> float:
    return float(request.width * request.height)


def _transcode(request: VideoProcessing, gpus: GpuColumns, frames: int) -> _FrameJobs:
    engines = np.array([NVENC_ENGINES.get(m, 0) for m in gpus.models], dtype=np.float64)
    av1_ok = np.array([a in AV1_ENCODE_ARCHITECTURES for a in gpus.architectures], dtype=np.bool_)
    codec_blocked = np.where((request.codec == "av1") & ~av1_ok, CODEC_UNSUPPORTED, 0)
    blocked = np.where(engines == 0, NO_HARDWARE_ENCODER, codec_blocked).astype(np.int8)
    speed = CODEC_SPEED[request.codec]
    fps_per_gpu = engines * NVENC_FPS_1080P * speed * (1920 * 1080) / _pixels(request)
    seconds, _ = kernels.roofline_seconds([1.0], [fps_per_gpu])
    note = f"NVENC {request.codec}: {NVENC_FPS_1080P:g} fps of 1080p per engine x {speed:g}"
    return _FrameJobs(
        seconds, frames, VIDEO_SESSION_MEMORY_GB, blocked, 0.0, "video_encoder", note, ("nvenc", "nvenc_throughput")
    )


def _upscale(request: VideoProcessing, gpus: GpuColumns, frames: int) -> _FrameJobs:
    px = _pixels(request)
    flops_frame = UPSCALE_FLOP_PER_INPUT_PIXEL[request.scale] * px
    seconds = kernels.compute_seconds(gpus.tflops(request.precision), flops_frame, UPSCALE_UTILISATION)
    note = f"Real-ESRGAN x{request.scale} at {UPSCALE_UTILISATION:.0%} of the {request.precision} peak"
    working_set_gb = 1.0 + px * 64 * 2 * 8 / 1e9
    blocked = gpus.precision_blocked(request.precision)
    sources = ("upscale_flops", "precision_support")
    return _FrameJobs(seconds, frames, working_set_gb, blocked, flops_frame * frames, "compute", note, sources)


def _interpolation(request: VideoProcessing, gpus: GpuColumns, frames: int) -> _FrameJobs:
    px = _pixels(request)
    jobs = frames * (request.interpolation_factor - 1)
    flops_frame = INTERPOLATION_FLOP_PER_PIXEL * px
    seconds = kernels.compute_seconds(gpus.fp32_tflops, flops_frame, 1.0)
    note = f"RIFE-like interpolation x{request.interpolation_factor}, calibrated on FP32 peak"
    working_set_gb = 1.0 + px * 0.5e-6
    blocked = gpus.nothing_blocked()
    return _FrameJobs(
        seconds, jobs, working_set_gb, blocked, flops_frame * jobs, "compute", note, ("interpolation_cost",)
    )


def _diffusion(request: VideoProcessing, gpus: GpuColumns, frames: int) -> PlannedWorkload:
    shape = request.shape()
    latent_frames = (frames - 1) // 4 + 1
    tokens = latent_frames * math.ceil(request.height / 16) * math.ceil(request.width / 16)
    attention = 4.0 * shape.n_layers * shape.hidden * float(tokens) ** 2
    passes = 2.0 if request.guidance else 1.0
    flops_step = passes * (2.0 * request.params_b * 1e9 * tokens + attention)
    flops = flops_step * request.steps * request.clips
    weights_gb = request.params_b * BYTES_PER_PARAM[request.precision]
    act_gb = tokens * shape.hidden * VIDEO_ACTIVATION_BYTES_PER_TOKEN_DIM / 1e9
    utilisation = np.array(
        [VIDEO_DIFFUSION_UTILISATION_BY_ARCH.get(a, VIDEO_DIFFUSION_UTILISATION) for a in gpus.architectures]
    )
    seconds_1 = kernels.compute_seconds(gpus.tflops(request.precision) * utilisation, flops, 1.0)
    beta = BETA_TENSOR_PARALLEL
    kernel_plan = sharded_plan(
        gpus,
        request,
        sharded_gb=weights_gb + act_gb,
        seconds_1=seconds_1,
        beta=beta,
        constraint_1=seconds_1,
        limit=deadline_s(request.deadline_hours),
    )
    needs = requirement(
        request,
        parallelism="sharded",
        breakdown={"weights": weights_gb, "activations": act_gb},
        flops=flops,
        bytes_moved=weights_gb * 1e9 * 2 * request.steps * request.clips,
        jobs=1,
        assumptions=[
            f"diffusion_video: {request.params_b:g}B DiT, {frames} frames -> {tokens} latent tokens "
            f"(VAE 4x temporal, 8x8 spatial, 2x2 patches), {request.steps} steps "
            + ("with CFG (two passes)" if request.guidance else "guidance-distilled (one pass)")
            + f", {request.clips} clip(s); DiT of {shape.n_layers} blocks x {shape.hidden}"
            + (f" ({request.model}, model table)" if request.model else ""),
            f"{VIDEO_DIFFUSION_UTILISATION_BY_ARCH.get('Ampere'):.0%} of the {compute_path(request.precision)} "
            f"peak on Ampere and Ada, {VIDEO_DIFFUSION_UTILISATION:.0%} elsewhere; sequence-parallel over GPUs; "
            "text encoder and VAE offloaded",
        ],
        sources=(
            "video_diffusion",
            "video_diffusion_calibration",
            "video_activation",
            "llama_shape",
            "bytes_per_param",
            "scaling",
            "gpu_counts",
            "precision_support",
        ),
    )
    return PlannedWorkload(requirement=needs, plan=kernel_plan, bottlenecks=["compute"] * gpus.count, scaling_beta=beta)
