"""Workload descriptions (what the user wants to run) and the per-GPU plans we answer with.

Pure pydantic, no NumPy. The five request models are discriminated by ``type``; :data:`WorkloadRequest` is their
union. Every modelling constant lives here, next to its source in :data:`SOURCES` (``docs/workloads.md`` has the
formulas). Bounds are enforced by the fields; combinations that are each in range but make no sense together
(``output_tokens`` not below ``context_tokens``, ``gpu_count`` above ``max_gpus``, an inference-only precision for
training, ...) by each model's validator, with the offending field in the error's location. Either way validation
fails, and the API answers 422.

Units: parameters in billions (``params_b``), tokens in billions where named ``_b``, GB = 1e9 bytes, TFLOPS = 1e12
FLOP/s, hours for times the user sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Literal, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from gpubroker.domain.models import ModelKind, OpenModel, match_model
from gpubroker.domain.precision import FLOAT_PRECISIONS, PRECISION_SOURCES, Precision
from gpubroker.domain.types import Int

# ---- vocabulary ----------------------------------------------------------------------------------------------------

WorkloadType = Literal["llm_inference", "training", "image_generation", "video_processing", "data_processing"]
Optimizer = Literal["adamw", "adafactor", "sgd", "adam8bit", "paged_adamw", "paged_adamw_8bit"]
TrainingMethod = Literal["full", "lora", "qlora"]
ImageFamily = Literal["sd15", "sdxl", "sd3", "flux-dev", "flux-schnell"]
VideoTask = Literal["transcode", "upscale", "frame_interpolation", "diffusion_video"]
Codec = Literal["h264", "hevc", "av1"]
DataOperation = Literal["etl", "embedding", "dedupe"]
Bottleneck = Literal["memory_bandwidth", "compute", "host_io", "video_encoder", "memory_capacity", "unsupported"]
Parallelism = Literal["sharded", "replicated"]
ServingMode = Literal["latency", "throughput"]
Reason = Literal[
    "precision_unsupported",  # the GPU has no fast path for the requested precision (fp8 before Hopper/Ada, ...)
    "codec_unsupported",  # the GPU's video encoder cannot encode the codec (AV1 before Ada)
    "no_hardware_encoder",  # the GPU has no NVENC (A100, H100, ...): transcoding is not offered on it
    "insufficient_memory_even_at_max_gpus",  # does not fit in max_gpus GPUs (or in one GPU when replicated)
    "exceeds_max_gpus",  # fits, but the target/deadline needs more than max_gpus GPUs
    "insufficient_memory_at_gpu_count",  # gpu_count was fixed and the workload does not fit in that many
    "target_not_met",  # gpu_count fixed (or one job alone) and the target rate/deadline is not reached
    "no_offers",  # technically feasible, but no live offer for this GPU model
]
REASONS: tuple[Reason, ...] = (
    "precision_unsupported",
    "codec_unsupported",
    "no_hardware_encoder",
    "insufficient_memory_even_at_max_gpus",
    "exceeds_max_gpus",
    "insufficient_memory_at_gpu_count",
    "target_not_met",
    "no_offers",
)

# ---- constants and their sources -----------------------------------------------------------------------------------

SOURCES: dict[str, str] = {
    "bytes_per_param": "IEEE/OCP formats: fp32 4 B, fp16/bf16 2 B, fp8/int8 1 B; int4 with group-128 fp16 "
    "scale+zero = 4.25 bit (AWQ, Lin et al. 2023, arXiv:2306.00978; GPTQ, Frantar et al. 2022)",
    "kv_cache": "KV bytes/token = 2 (K,V) x layers x kv_heads x head_dim x bytes (Pope et al. 2022, 'Efficiently "
    "Scaling Transformer Inference', arXiv:2211.05102; vLLM docs)",
    "llama_shape": "N ~= 12 L d^2 (Kaplan et al. 2020, arXiv:2001.08361, eq. 2.1 with SwiGLU 8/3 FFN); "
    "d = 128 L and head_dim 128 match Llama-3-405B (126 layers, d 16384) and Llama-2-7B (32, 4096); "
    "GQA with 8 KV heads as in Llama-2-70B / Llama-3 / Mistral (Ainslie et al. 2023, arXiv:2305.13245)",
    "usable_memory_fraction": "0.9 of the GPU's physical memory (LLM serving: the request's gpu_memory_utilization, "
    "default 0.9): vLLM's default gpu_memory_utilization, the share "
    "of total GPU memory the engine may use for weights, activations and KV cache together (docs.vllm.ai, "
    "EngineArgs); the rest is the CUDA context and other processes. Applied once: no separate overhead on top",
    "memory_label": "a datasheet's '80 GB' of HBM/GDDR is 80 GiB: nvidia-smi reports 81920 MiB for the A100 80GB, "
    "81559 MiB for the H100 80GB, 24564 MiB for the RTX 4090; so physical bytes = label x 2^30",
    "runtime_reserve": "1 GB per GPU inside the engine's share for CUDA graphs, the sampler and NCCL buffers (vLLM "
    "logs 'Graph capturing finished ... took 0.5-1.5 GiB' for 7B-70B models; assumption at the middle)",
    "activation_workspace": "the engine's profiled activation peak: one prefill chunk of 2048 tokens (vLLM's "
    "max_num_batched_tokens with chunked prefill) x hidden x 24 B (residual, QKV, the 3.5 d SwiGLU intermediate "
    "in half precision; assumption), per GPU",
    "paged_kv": "paged attention allocates KV blocks for the tokens actually held (Kwon et al. 2023, 'Efficient "
    "Memory Management for LLM Serving with PagedAttention', arXiv:2309.06180): in throughput mode the cache holds "
    "each running sequence at its mean length in flight, prompt + output / 2; the batch is what the free memory "
    "holds, at most max_num_seqs 256 (vLLM default)",
    "serving_layouts": "n GPUs serve as one tensor-parallel group or as n/t replicas of tensor parallelism t (vLLM "
    "data parallel / several engines behind a router); each layout is costed with the same roofline and the faster "
    "one is reported (throughput mode: the whole job; latency mode: one request's latency)",
    "moe": "mixture of experts: every expert is held in memory (total parameters), a token computes only its "
    "active parameters (Fedus et al. 2022, Switch Transformers; Jiang et al. 2024, Mixtral, arXiv:2401.04088); a "
    "decode step reads the shared weights and every expert some token of the batch routes to: with E experts, k "
    "per token and uniform routing, E (1 - (1 - k/E)^B) experts per layer at batch B; 8 experts, 2 per token "
    "(Mixtral) when not stated; expert parallelism splits the experts across the GPUs like the other weights",
    "decode_bandwidth_efficiency": "0.6 of peak HBM bandwidth (model-bandwidth utilisation ~55-60% measured at "
    "batch 1 on A100/H100: Databricks 'LLM Inference Performance Engineering: Best Practices', 2023)",
    "weight_only_decode": "0.45 of peak bandwidth for weight-only int8/int4 decode (the kernel dequantises every "
    "weight it reads): the median of the calibration cases gpt-fast Llama-2-70B int4 on A100 (0.45), Mixtral int8 "
    "on A100 (0.36) and llama.cpp Q4_0 on a P40 (0.59), tests/fixtures/workloads/measured_runs.json",
    "prefill_by_generation": "Ampere prefill at 0.75 of the dense peak, and decode's compute term at 0.3 of the "
    "prefill efficiency (small-batch GEMMs, attention over the KV cache, sampling): the pair fitted jointly on the "
    "reference set's 16 LLM calibration cases (grid over share 0.15-1.0 and Ampere 0.5-0.8, most within 25% then "
    "least log error): TensorRT-LLM's Llama-2-7B fp16 TTFT of 2,048 tokens on an A100 alone implies 0.69, "
    "SGLang's maximum-throughput Llama 3.1 8B on an A100 and TensorRT-LLM's batch-480 Llama-2-70B on 4 H100 set "
    "the decode share; the fp8 cases on L40S and H100 keep 0.5 (Ampere reaches a larger share of its peak, as in "
    "training)",
    "prefill_compute_efficiency": "0.5 of dense tensor peak for prefill (compute-bound GEMMs; assumption in line "
    "with published MFU of 40-60% for large GEMM-dominated passes)",
    "decode_flops": "2N FLOPs per token for the matmuls plus 4 L d ctx for attention (Kaplan et al. 2020, table 1)",
    "training_flops": "6 N D for full training (Kaplan et al. 2020; Hoffmann et al. 2022 'Chinchilla'); LoRA/QLoRA "
    "4 N D: the frozen weights need no weight gradients (Hu et al. 2021, arXiv:2106.09685)",
    "attention_flops": "training FLOPs per token = 6 N + 12 L d s (forward + backward of the attention scores, "
    "PaLM, Chowdhery et al. 2022, arXiv:2204.02311, appendix B); 4 N + 12 L d s for LoRA; N the active "
    "parameters of a mixture of experts; evaluation forward passes 2 N + 4 L d s per token",
    "checkpoint": "a checkpoint writes the trainable weights, the fp32 master copy and the optimizer states, each "
    "GPU its shard at 1 GB/s (PyTorch distributed checkpointing to local NVMe or a parallel file system; "
    "assumption), once per checkpoint interval",
    "mfu_by_generation": "training utilisation of the hardware (model FLOPs + the forward pass gradient "
    "checkpointing recomputes) per GPU generation on the bf16 peak, fitted on the reference set's calibration "
    "cases: Ampere 0.60 (Llama 2 7B and 70B pre-training GPU-hours on A100 at 0.60-0.61; MosaicML MPT 7B/13B/30B "
    "on A100 at 0.53-0.64), Hopper 0.55 (MPT-70B on 64 H100 at 0.57; Llama 3 405B reports 38-43% MFU on 16k "
    "H100 without full recomputation, Dubey et al. 2024, arXiv:2407.21783, table 4); Volta 0.45, Turing 0.40, Ada "
    "0.50, Blackwell 0.50, CDNA 3 0.40 have no measured case (assumptions below their successors'/rivals'); fp8 at "
    "0.7 x that on the fp8 peak (fp8 training ~1.3-1.5x bf16 throughput: NVIDIA Transformer Engine / NeMo "
    "performance tables). A given utilisation is model-FLOPs utilisation (no recomputation added)",
    "mfu": "default model-FLOPs utilisation 0.4: PaLM reports 46.2% MFU (Chowdhery et al. 2022, arXiv:2204.02311); "
    "Megatron-LM 52% on 3072 A100 (Narayanan et al. 2021, arXiv:2104.04473); MosaicML/LLM Foundry tables 35-45%",
    "training_memory": "mixed precision: 2 B weights + 2 B grads + 4 B fp32 master + optimizer states (ZeRO, "
    "Rajbhandari et al. 2020, arXiv:1910.02054: 16 B/param with Adam); fp32: 4 + 4 + states",
    "optimizer_states": "bytes/param: AdamW 8, 8-bit Adam 2 (Dettmers et al. 2021, arXiv:2110.02861), SGD with "
    "momentum 4, Adafactor ~4 (Hugging Face Transformers docs, 'Methods and tools for efficient training on a "
    "single GPU' / model training anatomy); paged AdamW (32-bit 8, 8-bit 2) keeps them in CUDA unified memory that "
    "bitsandbytes evicts to CPU RAM when the GPU runs out (bitsandbytes docs, 'Paged optimizers'; QLoRA, Dettmers "
    "et al. 2023, arXiv:2305.14314, section 3): not counted against the GPU; optimizer_in_backward steps each "
    "parameter as its gradient is produced and frees it, so no whole-model gradient is held (torchtune "
    "optimizer_in_bwd, PyTorch tutorial 'How to save memory by fusing the optimizer step into the backward pass'); "
    "mixed_precision=false trains in the compute dtype without the fp32 master copy (torchtune dtype: bf16)",
    "fsdp_network": "FSDP/ZeRO-3 moves 3 x the compute-dtype parameters per GPU and step (all-gather forward and "
    "backward, reduce-scatter of the gradients; Rajbhandari et al. 2020, arXiv:1910.02054, section 7.2.2), 4 x "
    "with gradient checkpointing (the recomputed forward gathers again); across nodes each GPU gets "
    "internode_gbps / gpus_per_node; overlapped with compute (FSDP prefetch), a step takes the longer of the two",
    "qlora": "NF4 base weights with double quantisation: 4.127 bit/param (Dettmers et al. 2023, arXiv:2305.14314)",
    "activations": "with full recomputation 2 s b h bytes per layer kept + one layer's 34 s b h working set; "
    "without, 34 s b h per layer (Korthikanti et al. 2022, arXiv:2205.05198; FlashAttention removes the "
    "5 a s^2 b term, Dao et al. 2022)",
    "scaling": "speedup(n) = n^beta: beta 0.9 for tensor/sequence parallel (an all-reduce per layer: 8 GPUs give "
    "~6.5x; assumption, consistent with the calibration cases at TP 2-8), 1.0 for FSDP/data-parallel training: "
    "the training utilisations are measured at scale (8 to 1,024 GPUs in the calibration cases) and already "
    "include the communication (time stays monotone non-increasing in n)",
    "gpu_counts": "valid sharded counts 1, 2, 4, 8 then multiples of 8: tensor parallelism must divide the "
    "attention heads (vLLM) and nodes hold 8 GPUs",
    **PRECISION_SOURCES,
    "diffusion_flops": "TFLOP per denoising step per megapixel (classifier-free guidance doubles it): SD 1.5 "
    "UNet 339 GMACs at 512^2 (BK-SDM, Kim et al. 2023, arXiv:2305.15798); SDXL calibrated to 0.51 s/step at "
    "1024^2 on an RTX A4000 (sandner.art SDXL vs SD1.5 benchmark) at 30% utilisation; SD3-Medium (2B MMDiT) "
    "and FLUX.1 (12B) from 2 P tokens + attention with 16x16-pixel tokens",
    "diffusion_params": "SD1.5 UNet 0.86B + CLIP-L 0.12B + VAE 0.08B; SDXL UNet 2.6B + CLIP-L/bigG 0.82B "
    "(Podell et al. 2023, arXiv:2307.01952); SD3-Medium 2B + T5-XXL 4.76B + CLIPs (Esser et al. 2024, "
    "arXiv:2403.03206); FLUX.1 12B + T5-XXL (black-forest-labs model cards)",
    "diffusion_utilisation": "time per denoising step = 28 ms + FLOPs / (0.44 x dense tensor peak): a fixed cost per "
    "step whatever the batch (kernel launches, the scheduler, Python) plus the batch's FLOPs; both fitted on the "
    "reference set's five image calibration cases (diffusers SD 1.5 on A100, V100 and T4 at batch 1; fal.ai SD "
    "1.5 and SDXL on A100): 4 of 5 within 25%, the T4 (a 70 W card that cannot hold its tensor peak) 1.9x fast",
    "diffusion_activation": "2.5 GB per megapixel per image in the batch, dominated by the VAE decode "
    "(assumption; diffusers documents VAE tiling/slicing for large images for this reason)",
    "video_activation": "peak working memory (DiT activations, the VAE decode) = 112 B per latent token per unit "
    "of DiT width, from the calibration case Wan 2.1 1.3B at 480p x 81 frames peaking at 8.19 GB on an RTX 4090 "
    "with the T5 encoder on the CPU (Wan 2.1 README); 56 live half-precision tensors of T x d",
    "uncertainty": "the band is the 10th-90th percentile of measured / estimated time over the calibration cases "
    "of the workload type in tests/fixtures/workloads/measured_runs.json (LLM serving and decode, training, "
    "image, video: published runs with quoted sources); a type with fewer than 5 cases takes every type's cases "
    "pooled; memory's band is the range of the peak-memory cases",
    "video_diffusion_calibration": "attention-dominated DiT passes reach 0.70 of the dense peak on Ampere and Ada: "
    "HunyuanVideo 544x960x93 on one A100 in 704 s (0.69, one pass per step: guidance-distilled) and Wan 2.1 "
    "1.3B 480p on an RTX 4090 in ~240 s (0.71, with CFG), the reference set's calibration cases; FlashAttention-2 "
    "reaches 50-73% of A100 peak (Dao 2023, arXiv:2307.08691); on Hopper it reaches ~35% (FlashAttention-3, Shah "
    "et al. 2024, arXiv:2407.08608), so Hopper and the rest keep 0.4 (the Wan 2.1 14B / H100 figure below)",
    "video_diffusion": "Wan2.1-T2V-14B: VAE 4x temporal, 8x8 spatial, 1x2x2 patches; ~30 min for 81 frames of "
    "720p on one H100 (Wan 2.1 repository) matches 2 P T + 4 L d T^2 per step at 40% MFU with CFG",
    "nvenc": "NVENC engines per GPU and codec support: NVIDIA Video Encode and Decode GPU Support Matrix "
    "(developer.nvidia.com/video-encode-and-decode-gpu-support-matrix-new); A100/H100/H200/B200 have none",
    "nvenc_throughput": "400 frames/s of 1080p per NVENC engine at a medium-quality preset (NVIDIA Video Codec "
    "SDK application note, encoder performance tables list ~400-800 fps for H.264/HEVC 1080p by preset)",
    "upscale_flops": "Real-ESRGAN RRDBNet (16.7M params, 3.3e7 FLOP per input pixel for x4, a quarter for x2 via "
    "pixel-unshuffle; Wang et al. 2021, arXiv:2107.10833), at 30% of tensor peak",
    "interpolation_cost": "RIFE runs 30+ fps for 2x 720p on an RTX 2080 Ti (Huang et al. 2022, arXiv:2011.06294): "
    "~4.9e5 FP32-peak FLOP per output pixel",
    "host_io": "2 GB/s of input read + decoded per GPU (storage read, decompression and parsing with cuDF readers "
    "run at ~1-4 GB/s per GPU; PCIe 4.0 x16 alone would allow ~25 GB/s) (assumption)",
    "etl": "GPU dataframe work (RAPIDS cuDF) is memory-bandwidth bound: 10 bytes of HBM traffic per input byte at "
    "60% of peak, 1 GB partitions with a 4x working set (assumptions)",
    "embedding": "4 bytes of text per token (OpenAI tokenizer guidance); default model BAAI/bge-large-en-v1.5 "
    "(335M params); 2 P FLOPs per token at 40% of tensor peak",
    "dedupe": "fuzzy MinHash-LSH dedup (NeMo Curator): 260 hash permutations over ~1 shingle per byte, ~2 ops each, "
    "plus LSH bucketing and Jaccard checks of candidate pairs: ~5000 ops per byte at 50% of FP32 peak; 6 bytes "
    "of HBM traffic per input byte (assumptions)",
}

# KV cache element size: fp8 serving keeps an fp8 cache; weight-only int8/int4 keep an fp16 cache
KV_BYTES: dict[Precision, float] = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 2.0, "int4": 2.0}

USABLE_MEMORY_FRACTION = 0.9
GIB_PER_LABEL_GB = 2**30 / 1e9  # a datasheet "GB" of GPU memory is a GiB
# usable GB (1e9 B) per datasheet GB: the engine's share of the physical bytes, applied once
USABLE_GB_PER_LABEL_GB = GIB_PER_LABEL_GB * USABLE_MEMORY_FRACTION
RUNTIME_RESERVE_GB = 1.0
PREFILL_CHUNK_TOKENS = 2048
ACTIVATION_BYTES_PER_TOKEN_HIDDEN = 24.0
MAX_NUM_SEQS = 256
DEFAULT_EXPERTS, DEFAULT_EXPERTS_PER_TOKEN = 8, 2
DECODE_BANDWIDTH_EFFICIENCY = 0.6
WEIGHT_ONLY_DECODE_EFFICIENCY = 0.45  # int8/int4 weights dequantised in the decode kernel (calibration cases)
PREFILL_COMPUTE_EFFICIENCY = 0.5
DECODE_COMPUTE_SHARE = 0.3  # decode GEMMs' efficiency relative to prefill's (calibration)
PREFILL_COMPUTE_EFFICIENCY_BY_ARCH: dict[str, float] = {"Ampere": 0.75}  # calibration, see SOURCES
HEAD_DIM = 128
ASPECT_RATIO = 128  # d_model / n_layers
DEFAULT_KV_HEADS = 8
BETA_TENSOR_PARALLEL = 0.9
BETA_DATA_PARALLEL = 1.0  # measured training utilisations are at scale: they include the communication
DEFAULT_MFU = 0.4  # an architecture without a measured figure
# training: the hardware's FLOPs utilisation (model FLOPs + the recomputed forward under gradient checkpointing) on
# the dense half-precision tensor peak, per architecture (sources: "mfu_by_generation"), fitted on the reference
# set's calibration cases (tests/fixtures/workloads/measured_runs.json, split "calibration")
TRAINING_MFU: dict[str, float] = {
    "Volta": 0.45, "Turing": 0.40, "Ampere": 0.60, "Ada Lovelace": 0.50, "Hopper": 0.55,
    "Blackwell": 0.50, "Blackwell Ultra": 0.50, "CDNA 3": 0.40,
}  # fmt: skip
FP8_MFU_RATIO = 0.7  # MFU on the FP8 peak relative to the bf16 MFU (fp8 training runs ~1.4x bf16, not 2x)
ATTENTION_TRAINING_FLOPS = 12.0  # x layers x hidden x seq_len per token, forward + backward (PaLM appendix B)
CHECKPOINT_WRITE_GBPS = 1.0  # per GPU writing its shard

# training: bytes per parameter
OPTIMIZER_STATE_BYTES: dict[Optimizer, float] = {
    "adamw": 8.0,
    "adam8bit": 2.0,
    "sgd": 4.0,
    "adafactor": 4.0,
    "paged_adamw": 8.0,
    "paged_adamw_8bit": 2.0,
}
# bitsandbytes' paged optimizers keep their states in CUDA unified memory, evicted to CPU RAM under GPU memory
# pressure: they do not count against the GPU (they cost host memory and, when paged, transfer time)
PAGED_OPTIMIZERS: frozenset[Optimizer] = frozenset({"paged_adamw", "paged_adamw_8bit"})
# FSDP/ZeRO-3 traffic per GPU and step, in units of the model's compute-dtype bytes: all-gather for the forward,
# all-gather for the backward, reduce-scatter of the gradients (Rajbhandari et al. 2020, section 7.2.2: 3 x the
# parameters, 1.5 x data parallel's 2); gradient checkpointing re-gathers for the recomputed forward (one more)
FSDP_TRAFFIC_PER_STEP = 3.0
MASTER_WEIGHT_BYTES = 4.0  # fp32 master copy under mixed precision
QLORA_BYTES_PER_PARAM = 4.127 / 8
ACTIVATION_LAYER_BYTES = 34  # x s b h per layer, half precision, no recompute
CHECKPOINT_LAYER_BYTES = 2  # x s b h per layer, the layer input kept under full recompute


# image generation: per family
class DiffusionFamily(NamedTuple):
    """One image model family: parameters in billions, TFLOP per denoising step per megapixel (incl. CFG)."""

    denoiser_b: float
    other_b: float  # text encoders + VAE
    tflop_per_step_mp: float
    default_steps: int


IMAGE_FAMILY: dict[ImageFamily, DiffusionFamily] = {
    "sd15": DiffusionFamily(denoiser_b=0.86, other_b=0.21, tflop_per_step_mp=5.2, default_steps=30),
    "sdxl": DiffusionFamily(denoiser_b=2.6, other_b=0.9, tflop_per_step_mp=11.8, default_steps=30),
    "sd3": DiffusionFamily(denoiser_b=2.0, other_b=5.66, tflop_per_step_mp=41.0, default_steps=28),
    "flux-dev": DiffusionFamily(denoiser_b=12.0, other_b=4.97, tflop_per_step_mp=110.0, default_steps=28),
    "flux-schnell": DiffusionFamily(denoiser_b=12.0, other_b=4.97, tflop_per_step_mp=110.0, default_steps=4),
}
DIFFUSION_UTILISATION = 0.44
DIFFUSION_STEP_OVERHEAD_S = 0.028
DIFFUSION_ACTIVATION_GB_PER_MP = 2.5

# video
NVENC_ENGINES: dict[str, int] = {
    "A10": 1, "A10G": 1, "A16": 1, "A30": 0, "A40": 1, "A100-40GB": 0, "A100-80GB": 0,
    "H100-SXM": 0, "H100-PCIe": 0, "H100-NVL": 0, "H200": 0, "GH200": 0, "B200": 0, "B300": 0,
    "L4": 2, "L40": 3, "L40S": 3, "T4": 1, "V100-16GB": 3, "V100-32GB": 3,
    "RTX-A4000": 1, "RTX-A4500": 1, "RTX-A5000": 1, "RTX-A6000": 1, "RTX-4000-Ada": 2, "RTX-6000-Ada": 3,
    "RTX-PRO-6000": 4, "Quadro-RTX-6000": 1, "Quadro-M4000": 1, "Quadro-P4000": 1,
    "RTX-3060": 1, "RTX-3070": 1, "RTX-3090": 1, "RTX-4090": 2, "RTX-5090": 3, "MI300X": 0,
}  # fmt: skip
AV1_ENCODE_ARCHITECTURES = frozenset({"Ada Lovelace", "Blackwell", "Blackwell Ultra"})
NVENC_FPS_1080P = 400.0
CODEC_SPEED: dict[Codec, float] = {"h264": 1.0, "hevc": 0.8, "av1": 0.8}
VIDEO_SESSION_MEMORY_GB = 1.0
UPSCALE_FLOP_PER_INPUT_PIXEL: dict[int, float] = {4: 3.3e7, 2: 3.3e7 / 4}
UPSCALE_UTILISATION = 0.3
INTERPOLATION_FLOP_PER_PIXEL = 4.9e5
VIDEO_DIFFUSION_UTILISATION = 0.4  # architectures without a calibration case (the Wan 2.1 14B / H100 figure)
VIDEO_DIFFUSION_UTILISATION_BY_ARCH: dict[str, float] = {"Ampere": 0.70, "Ada Lovelace": 0.70}
VIDEO_ACTIVATION_BYTES_PER_TOKEN_DIM = 112  # peak working set per latent token x width (calibration case)

# data processing
HOST_IO_GBPS = 2.0
DATA_PARTITION_GB = 1.0
DATA_WORKING_SET_FACTOR = 4.0
ETL_BYTES_PER_BYTE = 10.0
ETL_BANDWIDTH_EFFICIENCY = 0.6
BYTES_PER_TOKEN = 4.0
EMBEDDING_MFU = 0.4
EMBEDDING_ACTIVATION_GB = 2.0
DEDUPE_OPS_PER_BYTE = 5000.0
DEDUPE_COMPUTE_EFFICIENCY = 0.5
DEDUPE_BYTES_PER_BYTE = 6.0


class Band(NamedTuple):
    """Multipliers of an estimate that hold the central 80% of the reference set's calibration cases."""

    low: float
    high: float
    cases: int  # calibration cases of this workload type (fewer than 5: the pooled band of every type)


# measured time / estimated time over the calibration cases of tests/fixtures/workloads/measured_runs.json, 10th and
# 90th percentiles (tests.workload_reference.uncertainty_bands computes them; a test keeps these in step)
TIME_BANDS: dict[WorkloadType, Band] = {
    "llm_inference": Band(0.76, 1.13, 17),
    "training": Band(0.54, 1.14, 9),
    "image_generation": Band(0.90, 1.64, 5),
    "video_processing": Band(0.76, 1.20, 2),
    "data_processing": Band(0.76, 1.20, 0),
}
MEMORY_BAND = Band(0.99, 1.16, 3)  # measured / estimated peak memory: the range of the calibration cases
BAND_MIN_CASES = 5


class ModelShape(BaseModel):
    """Transformer shape used for KV cache, attention FLOPs and activation memory."""

    model_config = ConfigDict(frozen=True)

    n_layers: int
    hidden: int
    n_kv_heads: int
    head_dim: int


def llama_shape(
    params_b: float,
    *,
    n_layers: int | None = None,
    hidden: int | None = None,
    n_kv_heads: int | None = None,
    head_dim: int | None = None,
) -> ModelShape:
    """Llama-like shape from the parameter count; any given field wins.

    ``L = round((N / (12 * 128^2))^(1/3))``, ``d = 128 L``, ``head_dim = 128``, ``kv_heads = min(8, d / 128)``.
    Every default is non-decreasing in ``params_b`` (so is the KV cache it implies). 7B -> 33 layers, d 4224;
    70B -> 71 layers, d 9088; 405B -> 127 layers, d 16256.
    """
    hd = head_dim or HEAD_DIM
    layers = n_layers or max(1, round((params_b * 1e9 / (12 * ASPECT_RATIO**2)) ** (1 / 3)))
    d = hidden or ASPECT_RATIO * layers
    kv = n_kv_heads or max(1, min(DEFAULT_KV_HEADS, d // hd))
    return ModelShape(n_layers=layers, hidden=d, n_kv_heads=kv, head_dim=hd)


# ---- requests ------------------------------------------------------------------------------------------------------


def _refused(request: BaseModel, field: str, message: str) -> ValidationError:
    """A combination the fields allow one by one but the workload cannot run: a validation error on ``field``."""
    error = InitErrorDetails(
        type=PydanticCustomError("value_error", message), loc=(field,), input=getattr(request, field)
    )
    return ValidationError.from_exception_data(type(request).__name__, [error])


class _Workload(BaseModel):
    """What every workload request has: the GPU models to consider and the count to evaluate them at."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    gpu_count: Int | None = Field(
        default=None, ge=1, le=4096, description="evaluate every GPU model at exactly this count"
    )
    gpus: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=64, description="restrict to these GPU models"
    )
    if TYPE_CHECKING:  # every workload declares these with its own default (and its own place in the schema)
        max_gpus: int
        precision: Precision

    @model_validator(mode="after")
    def _gpu_count_within_max_gpus(self) -> Self:
        if self.gpu_count is not None and self.gpu_count > self.max_gpus:
            raise _refused(self, "gpu_count", f"gpu_count ({self.gpu_count}) exceeds max_gpus ({self.max_gpus})")
        return self

    def _require_float_precision(self, what: str) -> None:
        """int8/int4 are weight-only formats: only LLM inference runs them (computing in fp16)."""
        if self.precision not in FLOAT_PRECISIONS:
            raise _refused(self, "precision", f"{what} in fp32, fp16, bf16 or fp8")


def _refused_input(title: str, field: str, value: object, message: str) -> ValidationError:
    """As :func:`_refused`, before the model exists (a ``mode="before"`` validator)."""
    error = InitErrorDetails(type=PydanticCustomError("value_error", message), loc=(field,), input=value)
    return ValidationError.from_exception_data(title, [error])


def architecture_fields(model: OpenModel) -> tuple[dict[str, object], list[str]]:
    """A language model of the table as request fields (parameters, experts, shape), and what was adjusted.

    ``n_kv_heads x head_dim`` may not exceed ``hidden`` in a request; the few models whose attention is wider than
    their residual stream (Gemma 7B: 16 x 256 > 3072) keep their KV-cache size by folding the heads into the cap."""
    fields: dict[str, object] = {"params_b": model.params_b}
    notes: list[str] = [f"{model.name}: architecture from {model.source}"]
    if model.active_params_b is not None:
        fields["active_params_b"] = model.active_params_b
        if model.num_experts and model.experts_per_token:
            fields["n_experts"], fields["experts_per_token"] = model.num_experts, model.experts_per_token
        notes.append(f"mixture of experts: all {model.params_b:g}B parameters are held in memory "
                     f"({model.active_params_b:g}B active per token)")  # fmt: skip
    if model.num_layers and model.hidden_size:
        kv, hd = model.num_kv_heads or DEFAULT_KV_HEADS, model.head_dim or HEAD_DIM
        if kv * hd > model.hidden_size:
            kv = max(1, model.hidden_size // hd)
            notes.append(f"{model.name}: KV heads capped at {kv} (n_kv_heads x head_dim may not exceed hidden)")
        fields |= {"n_layers": model.num_layers, "hidden": model.hidden_size, "n_kv_heads": kv, "head_dim": hd}
    return fields, notes


def _fill_from_table(
    cls: type[BaseModel], data: object, kind: ModelKind, fields: Callable[[OpenModel], dict[str, object]]
) -> object:
    """A request body whose ``model`` names a model of the table (of ``kind``), with that model's ``fields`` for
    the keys the body leaves out; an unknown name or another kind is a validation error on ``model``."""
    if not isinstance(data, dict) or data.get("model") is None:
        return data
    name = data["model"]
    found = match_model(name) if isinstance(name, str) else None
    if found is None or found.kind != kind:
        what = f"a {kind} model of the model table" if found is None else f"{found.name} is a {found.kind} model"
        raise _refused_input(cls.__name__, "model", name, f"unknown model: expected {what}")
    return {**{k: v for k, v in fields(found).items() if k in cls.model_fields}, **data}


def video_model_fields(model: OpenModel) -> dict[str, object]:
    """A video model of the table as ``VideoProcessing`` fields: size, DiT shape, guidance."""
    out: dict[str, object] = {"params_b": model.params_b}
    if model.num_layers and model.hidden_size:
        out |= {"n_layers": model.num_layers, "hidden": model.hidden_size}
    if model.classifier_free_guidance is not None:
        out["guidance"] = model.classifier_free_guidance
    return out


class _Transformer(_Workload):
    """A transformer given by its size and, optionally, its name in the model table and its architecture.

    ``model`` names a language model of :mod:`gpubroker.domain.models`; its parameters, experts and shape fill the
    fields the request leaves unset (a field given explicitly wins). Mixture of experts: ``params_b`` is the total
    (held in memory), ``active_params_b`` what one token computes with."""

    model: str | None = Field(
        default=None,
        max_length=128,
        description="a language model of the model table (name, alias or Hugging Face id): its parameters, experts "
        "and shape fill the unset fields",
    )
    params_b: float | None = Field(
        default=None, ge=0.1, le=2000, description="total parameters, billions (required unless `model` names one)"
    )
    active_params_b: float | None = Field(
        default=None, ge=0.01, le=2000, description="mixture of experts: parameters one token computes with, billions"
    )
    n_experts: Int | None = Field(default=None, ge=2, le=1024, description="mixture of experts: routed experts")
    experts_per_token: Int | None = Field(default=None, ge=1, le=64, description="mixture of experts: routed per token")
    n_layers: Int | None = Field(default=None, ge=1, le=1024)
    hidden: Int | None = Field(default=None, ge=64, le=131_072)
    n_kv_heads: Int | None = Field(default=None, ge=1, le=1024)
    head_dim: Int | None = Field(default=None, ge=16, le=1024)

    @model_validator(mode="before")
    @classmethod
    def _from_table(cls, data: object) -> object:
        return _fill_from_table(cls, data, "llm", lambda found: architecture_fields(found)[0])

    @property
    def total_params_b(self) -> float:
        """Total parameters, billions (the validator requires them, given or from ``model``)."""
        if self.params_b is None:
            raise ValueError("unvalidated request: params_b is required")
        return self.params_b

    @property
    def is_moe(self) -> bool:
        return self.active_params_b is not None

    @property
    def compute_params_b(self) -> float:
        """Parameters one token computes with: the active ones of a mixture of experts, else all."""
        return self.active_params_b if self.active_params_b is not None else self.total_params_b

    def experts(self) -> tuple[int, int]:
        """(routed experts, experts per token) of a mixture of experts (Mixtral's 8 and 2 when not stated)."""
        return (self.n_experts or DEFAULT_EXPERTS, self.experts_per_token or DEFAULT_EXPERTS_PER_TOKEN)

    def shape(self) -> ModelShape:
        """The given shape fields, Llama-like defaults (from the total parameters) for the others."""
        return llama_shape(
            self.total_params_b,
            n_layers=self.n_layers,
            hidden=self.hidden,
            n_kv_heads=self.n_kv_heads,
            head_dim=self.head_dim,
        )

    def _check_architecture(self) -> None:
        if self.params_b is None:
            raise _refused(self, "params_b", "params_b is required unless model names a model of the table")
        if self.active_params_b is not None and self.active_params_b > self.params_b:
            raise _refused(self, "active_params_b", "active_params_b cannot exceed params_b (the total)")
        if (self.n_experts is not None or self.experts_per_token is not None) and self.active_params_b is None:
            raise _refused(self, "active_params_b", "a mixture of experts needs active_params_b")
        n_experts, per_token = self.experts()
        if per_token >= n_experts:
            raise _refused(self, "experts_per_token", "experts_per_token must be fewer than n_experts")
        shape = self.shape()
        if shape.n_kv_heads * shape.head_dim > shape.hidden:
            raise _refused(
                self,
                "n_kv_heads",
                f"n_kv_heads x head_dim ({shape.n_kv_heads * shape.head_dim}) cannot exceed hidden ({shape.hidden})",
            )


class LlmInference(_Transformer):
    """Serving a decoder-only LLM.

    ``latency`` mode: ``concurrency`` sequences decoded together, each with KV cache reserved for the whole
    ``context_tokens``. ``throughput`` mode: continuous batching over a paged KV cache, which holds the sequences in
    flight at the mean prompt and output lengths; the batch is what memory holds (at most ``concurrency`` when it is
    given, else 256). ``prompt_tokens``/``output_tokens`` are means, ``context_tokens`` the longest sequence."""

    type: Literal["llm_inference"] = "llm_inference"
    precision: Precision = "fp16"
    mode: ServingMode = Field(
        default="latency",
        description="latency: fixed concurrency, KV cache reserved per sequence; throughput: continuous batching",
    )
    gpu_memory_utilization: float = Field(
        default=USABLE_MEMORY_FRACTION,
        gt=0,
        le=1.0,
        description="the engine's share of each GPU's memory: vLLM's default 0.9; 1.0 for a static-batch engine "
        "that allocates its KV cache for the batch it was built for",
    )
    context_tokens: Int = Field(default=4096, ge=1, le=1_048_576, description="longest sequence (prompt+output)")
    prompt_tokens: Int | None = Field(
        default=None, ge=1, le=1_048_576, description="mean prompt length (default: context_tokens - output_tokens)"
    )
    output_tokens: Int = Field(default=256, ge=1, le=1_048_576, description="mean generated tokens per request")
    concurrency: Int = Field(
        default=1, ge=1, le=4096, description="sequences decoded together (throughput mode: the batch cap)"
    )
    requests: Int | None = Field(default=None, ge=1, le=1_000_000_000, description="default: one batch")
    target_tokens_per_s: float | None = Field(default=None, gt=0, le=1e9, description="aggregate decode rate")
    max_gpus: Int = Field(default=8, ge=1, le=4096)

    @property
    def mean_prompt_tokens(self) -> int:
        return self.prompt_tokens if self.prompt_tokens is not None else self.context_tokens - self.output_tokens

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.output_tokens >= self.context_tokens:
            raise _refused(
                self,
                "output_tokens",
                "output_tokens must be smaller than context_tokens (the context holds prompt + output)",
            )
        if self.prompt_tokens is not None and self.prompt_tokens + self.output_tokens > self.context_tokens:
            raise _refused(
                self,
                "prompt_tokens",
                "prompt_tokens + output_tokens (means) cannot exceed context_tokens (the longest)",
            )
        if self.requests is not None and self.concurrency > self.requests:
            raise _refused(self, "concurrency", "concurrency cannot exceed requests")
        self._check_architecture()
        return self


class Training(_Transformer):
    """Pre-training or fine-tuning a transformer on ``dataset_tokens_b x epochs`` tokens."""

    type: Literal["training"] = "training"
    dataset_tokens_b: float = Field(gt=0, le=100_000, description="dataset size, billions of tokens")
    epochs: float = Field(default=1.0, gt=0, le=1000)
    precision: Precision = "bf16"
    optimizer: Optimizer = "adamw"
    optimizer_in_backward: bool = Field(
        default=False, description="step each parameter in the backward pass and free its gradient (torchtune)"
    )
    mixed_precision: bool = Field(
        default=True, description="keep an fp32 master copy of the weights; false: pure bf16/fp16 training"
    )
    internode_gbps: float | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        description="network bandwidth per node between nodes, Gbit/s: FSDP traffic beyond one node is bounded by "
        "it; default: not a bottleneck",
    )
    gpus_per_node: Int = Field(default=8, ge=1, le=64, description="GPUs sharing one node's network")
    method: TrainingMethod = "full"
    lora_fraction: float = Field(default=0.01, gt=0, le=0.5, description="trainable share of params (LoRA)")
    utilisation: float | None = Field(
        default=None,
        gt=0,
        le=0.8,
        description="model FLOPs utilisation (MFU); default: measured per GPU generation and precision",
    )
    seq_len: Int = Field(default=2048, ge=16, le=1_048_576)
    micro_batch_size: Int = Field(default=1, ge=1, le=1024, description="sequences per GPU per step")
    gradient_checkpointing: bool = True
    eval_fraction: float = Field(
        default=0.0, ge=0, le=1, description="evaluation tokens as a share of training tokens (forward passes)"
    )
    checkpoint_interval_hours: float | None = Field(
        default=None, gt=0, le=10_000, description="write the model and optimizer states this often"
    )
    deadline_hours: float | None = Field(default=None, gt=0, le=100_000)
    max_gpus: Int = Field(default=256, ge=1, le=4096)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.precision not in FLOAT_PRECISIONS:
            raise _refused(
                self,
                "precision",
                f"training precision must be one of {', '.join(FLOAT_PRECISIONS)}; int8/int4 are inference "
                "formats (use method=qlora for 4-bit base weights)",
            )
        if self.method == "qlora" and self.precision not in ("fp16", "bf16"):
            raise _refused(self, "precision", "QLoRA computes in bf16 or fp16")
        self._check_architecture()
        return self


class ImageGeneration(_Workload):
    type: Literal["image_generation"] = "image_generation"
    model_family: ImageFamily = "sdxl"
    precision: Precision = "fp16"
    width: Int = Field(default=1024, ge=64, le=8192)
    height: Int = Field(default=1024, ge=64, le=8192)
    steps: Int | None = Field(default=None, ge=1, le=1000, description="default: the family's usual count")
    images: Int = Field(default=1, ge=1, le=100_000_000)
    batch: Int = Field(default=1, ge=1, le=256, description="images per forward pass on one GPU")
    deadline_hours: float | None = Field(default=None, gt=0, le=100_000)
    max_gpus: Int = Field(default=64, ge=1, le=4096)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        self._require_float_precision("image generation runs")
        if self.width % 8 or self.height % 8:
            field = "width" if self.width % 8 else "height"
            raise _refused(self, field, "width and height must be multiples of 8 (the VAE downsamples by 8)")
        if self.batch > self.images:
            raise _refused(self, "batch", "batch cannot exceed images")
        return self


class VideoProcessing(_Workload):
    type: Literal["video_processing"] = "video_processing"
    task: VideoTask
    codec: Codec = "h264"
    width: Int = Field(default=1920, ge=16, le=16_384, description="input width (output for diffusion_video)")
    height: Int = Field(default=1080, ge=16, le=16_384)
    fps: float = Field(default=30.0, gt=0, le=1000)
    duration_s: float = Field(gt=0, le=1_000_000)
    scale: Literal[2, 4] = Field(default=2, description="upscale factor")
    interpolation_factor: Int = Field(default=2, ge=2, le=16, description="output/input frame rate")
    model: str | None = Field(
        default=None,
        max_length=128,
        description="diffusion_video: a video model of the model table (size, DiT shape, guidance fill unset fields)",
    )
    params_b: float = Field(default=14.0, ge=0.1, le=200, description="video diffusion model size")
    n_layers: Int | None = Field(default=None, ge=1, le=1024, description="DiT blocks (default: Llama-like)")
    hidden: Int | None = Field(default=None, ge=64, le=131_072, description="DiT width (default: Llama-like)")
    guidance: bool = Field(
        default=True, description="classifier-free guidance: two passes per step (False: guidance-distilled)"
    )
    precision: Precision = "bf16"
    steps: Int = Field(default=50, ge=1, le=1000)
    clips: Int = Field(default=1, ge=1, le=1_000_000)
    deadline_hours: float | None = Field(default=None, gt=0, le=100_000)
    max_gpus: Int = Field(default=64, ge=1, le=4096)

    @model_validator(mode="before")
    @classmethod
    def _from_table(cls, data: object) -> object:
        return _fill_from_table(cls, data, "video", video_model_fields)

    def shape(self) -> ModelShape:
        """The DiT's depth and width: the given fields, Llama-like defaults from the size for the others."""
        return llama_shape(self.params_b, n_layers=self.n_layers, hidden=self.hidden)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.task == "diffusion_video":
            self._require_float_precision("video diffusion runs")
        elif self.task != "transcode":  # the hardware encoder takes no precision
            self._require_float_precision("video models run")
        return self


class DataProcessing(_Workload):
    type: Literal["data_processing"] = "data_processing"
    operation: DataOperation
    dataset_gb: float = Field(gt=0, le=10_000_000)
    model_params_b: float = Field(default=0.335, ge=0.001, le=100, description="embedding model size")
    precision: Precision = "fp16"
    deadline_hours: float | None = Field(default=None, gt=0, le=100_000)
    max_gpus: Int = Field(default=64, ge=1, le=4096)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.operation == "embedding":
            self._require_float_precision("embedding runs")
        return self


WorkloadRequest = Annotated[
    LlmInference | Training | ImageGeneration | VideoProcessing | DataProcessing, Field(discriminator="type")
]


# ---- responses -----------------------------------------------------------------------------------------------------


class Uncertainty(BaseModel):
    """How far measured runs land from estimates like this one: the real time is likely between ``time_low`` and
    ``time_high`` times the estimate (the central 80% of the reference set's calibration cases of this workload
    type), the real peak memory between ``memory_low`` and ``memory_high`` times the estimate."""

    model_config = ConfigDict(frozen=True)

    time_low: float
    time_high: float
    memory_low: float
    memory_high: float
    cases: Int = Field(description="calibration cases of this workload type the time band rests on")
    basis: str

    @classmethod
    def of(cls, workload: WorkloadType) -> Uncertainty:
        band = TIME_BANDS[workload]
        if band.cases >= BAND_MIN_CASES:
            basis = f"{band.cases} measured runs of this workload type (calibration cases)"
        else:
            basis = f"{band.cases} measured runs of this type: the band of every type's calibration cases, pooled"
        return cls(
            time_low=band.low,
            time_high=band.high,
            memory_low=MEMORY_BAND.low,
            memory_high=MEMORY_BAND.high,
            cases=band.cases,
            basis=basis,
        )


class WorkloadRequirement(BaseModel):
    """What the workload needs, independent of the GPU (``time`` is per GPU, in the plans)."""

    model_config = ConfigDict(frozen=True)

    type: WorkloadType
    parallelism: Parallelism = Field(description="sharded: one job split over GPUs; replicated: independent jobs")
    memory_required_gb: float = Field(description="sharded: total across GPUs; replicated: per GPU")
    memory_breakdown_gb: dict[str, float]
    total_flops: float = Field(description="FLOPs for the whole job")
    bytes_moved: float = Field(description="bytes of GPU memory (or host) traffic for the whole job")
    jobs: Int = Field(description="independent units (images, frames, partitions); 1 for sharded work")
    assumptions: list[str]
    sources: dict[str, str]
    uncertainty: Uncertainty = Field(description="how far measured runs land from estimates of this type")


class GpuPlan(BaseModel):
    """One GPU model's answer: feasible with count, time and cost, or infeasible with a machine-readable reason."""

    model_config = ConfigDict(frozen=True)

    gpu_model: str
    feasible: bool
    gpus_needed: Int | None = Field(description="None when technically infeasible")
    est_hours: float | None
    est_hours_low: float | None = Field(default=None, description="est_hours x the uncertainty band's low end")
    est_hours_high: float | None = Field(default=None, description="est_hours x the uncertainty band's high end")
    est_tokens_per_s: float | None = None
    memory_required_gb: float
    memory_per_gpu_gb: float = Field(description="at gpus_needed, or at the largest count tried if infeasible")
    bottleneck: Bottleneck
    est_cost_usd: float | None = None
    price_per_gpu_hour: float | None = None
    offer_id: str | None = None
    reason: Reason | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    assumptions: list[str] = Field(default_factory=list)


class GpuFeasibility(BaseModel):
    """The short per-GPU line of an estimate."""

    model_config = ConfigDict(frozen=True)

    gpu_model: str
    feasible: bool
    gpus_needed: int | None
    est_hours: float | None
    est_hours_low: float | None = Field(default=None, description="est_hours x the uncertainty band's low end")
    est_hours_high: float | None = Field(default=None, description="est_hours x the uncertainty band's high end")
    est_cost_usd: float | None
    bottleneck: Bottleneck
    reason: Reason | None


class WorkloadEstimate(BaseModel):
    model_config = ConfigDict(frozen=True)

    requirement: WorkloadRequirement
    gpus: list[GpuFeasibility] = Field(description="every GPU considered, catalog order")
    priced: bool = Field(description="whether live prices were supplied")


class WorkloadMapping(BaseModel):
    model_config = ConfigDict(frozen=True)

    requirement: WorkloadRequirement
    plans: list[GpuPlan] = Field(description="feasible plans, cheapest first (then fastest), at most `top`")
    infeasible: list[GpuPlan] = Field(description="every infeasible GPU with its reason")
    more_feasible: Int = Field(description="feasible plans left out by `top`")
    priced: bool


def hours(seconds: float) -> float | None:
    return seconds / 3600.0 if math.isfinite(seconds) else None
