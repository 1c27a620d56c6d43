"""The estimator's issue-14 features, one test each: named models take the table's architecture, mixture-of-experts
memory vs compute, the two serving modes (paged KV cache in flight), replicas vs tensor parallelism, decode cost
growing with the KV cache, the memory model applied once, training's attention/eval/checkpoint/utilisation terms,
video models from the table, and the uncertainty band every estimate carries."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose
from pydantic import TypeAdapter, ValidationError

from gpubroker.domain import workloads as w
from gpubroker.domain.gpus import bundled_catalog
from gpubroker.services.workloads import estimate_workload, plan_workload
from gpumath import workload as k

SPECS = list(bundled_catalog().gpus)
BY_MODEL = {s.model: s for s in SPECS}
ADAPTER: TypeAdapter[Any] = TypeAdapter(w.WorkloadRequest)


def req(body: dict[str, Any]) -> Any:
    return ADAPTER.validate_python(body)


def plan(body: dict[str, Any], gpu: str) -> w.GpuPlan:
    _, plans = plan_workload(req(body | {"gpus": [gpu]}), specs=SPECS, prices=None)
    (only,) = plans
    return only


def requirement(body: dict[str, Any]) -> w.WorkloadRequirement:
    needs, _ = plan_workload(req(body), specs=SPECS, prices=None)
    return needs


# ---- named models -------------------------------------------------------------------------------------------------


def test_a_named_model_takes_the_tables_architecture() -> None:
    named = req({"type": "llm_inference", "model": "llama3-70b"})
    assert (named.params_b, named.n_layers, named.hidden, named.n_kv_heads, named.head_dim) == (70.6, 80, 8192, 8, 128)
    stated = req({"type": "llm_inference", "model": "llama3-70b", "params_b": 70.0, "n_kv_heads": 64})
    assert stated.params_b == 70.0 and stated.n_kv_heads == 64  # a field given explicitly wins
    gemma = req({"type": "llm_inference", "model": "gemma 7b"})  # 16 KV heads x 256 > hidden 3072: capped
    assert gemma.n_kv_heads * gemma.head_dim <= gemma.hidden
    with pytest.raises(ValidationError) as unknown:
        req({"type": "llm_inference", "model": "no such model 9000b"})
    assert unknown.value.errors()[0]["loc"][-1] == "model"
    with pytest.raises(ValidationError) as image:
        req({"type": "llm_inference", "model": "sdxl"})  # in the table, but not a language model
    assert "image model" in image.value.errors()[0]["msg"]
    with pytest.raises(ValidationError) as neither:
        req({"type": "llm_inference"})
    assert neither.value.errors()[0]["loc"][-1] == "params_b"


def test_llama3_70b_fp16_at_4096_tokens_fits_two_80gb_gpus() -> None:
    """Served daily with vLLM at tensor parallelism 2: the table's 8 KV heads keep the cache at 0.33 MB per token,
    and the memory model applies the engine's share once (no 10% overhead on top)."""
    body = {"type": "llm_inference", "model": "Llama 3 70B", "precision": "fp16", "context_tokens": 4096}
    for gpu in ("H100-SXM", "A100-80GB", "H100-PCIe"):
        p = plan(body, gpu)
        assert p.feasible and p.gpus_needed == 2, (gpu, p.reason)
        assert p.memory_per_gpu_gb <= BY_MODEL[gpu].memory_gb * w.USABLE_GB_PER_LABEL_GB
    assert plan(body, "H100-SXM").metrics["tensor_parallel"] == 2
    assert plan(body | {"gpu_count": 1}, "H100-SXM").reason == "insufficient_memory_at_gpu_count"  # 141 GB of weights
    breakdown = requirement(body).memory_breakdown_gb
    assert_allclose(breakdown["kv_cache"], 2 * 80 * 8 * 128 * 2 * 4096 / 1e9, rtol=1e-6)
    assert set(breakdown) == {"weights", "kv_cache", "runtime_per_gpu"}  # no overhead fraction of the weights


# ---- mixture of experts ---------------------------------------------------------------------------------------------


def test_moe_memory_comes_from_total_and_compute_from_active_parameters() -> None:
    moe = {"type": "llm_inference", "model": "mixtral 8x7b", "precision": "bf16", "context_tokens": 2048}
    dense_total = {k: v for k, v in req(moe).model_dump().items() if v is not None} | {
        "active_params_b": None,
        "n_experts": None,
        "experts_per_token": None,
        "model": None,
    }
    dense_total = {k: v for k, v in dense_total.items() if v is not None}
    needs_moe, needs_dense = requirement(moe), requirement(dense_total)
    assert needs_moe.memory_breakdown_gb["weights"] == pytest.approx(46.7 * 2)
    assert needs_moe.memory_breakdown_gb == needs_dense.memory_breakdown_gb  # memory: every expert is held
    assert needs_moe.total_flops < 0.35 * needs_dense.total_flops  # compute: 12.9B of 46.7B per token
    fast, slow = plan(moe | {"gpu_count": 2}, "A100-80GB"), plan(dense_total | {"gpu_count": 2}, "A100-80GB")
    assert fast.est_tokens_per_s is not None and slow.est_tokens_per_s is not None
    assert fast.est_tokens_per_s > 2.5 * slow.est_tokens_per_s  # batch 1 reads 2 of 8 experts per layer


def test_moe_decode_reads_more_experts_as_the_batch_grows() -> None:
    model = k.ServingModel(
        dense_gb=2.0, expert_gb=90.0, expert_share=0.25, kv_gb_per_token=0.0, kv_read_tokens=0.0,
        kv_held_tokens=1.0, reserve_gb=1.0, decode_flops_per_token=1.0, prefill_flops_per_seq=1.0,
        output_tokens=100.0, requests=64.0, fixed_batch=1, batch_cap=256,
    )  # fmt: skip
    one = np.array([3350.0]), np.array([989.0]), np.array([1000.0]), np.array([1])
    steps = []
    for batch in (1, 2, 8, 64):
        serving = k.llm_serving(*one, replace_batch(model, batch), bandwidth_efficiency=1.0, compute_efficiency=1.0,
                                beta=0.9)  # fmt: skip
        steps.append(float(serving.step_s[0]))
    expected_gb = [2.0 + 90.0 * (1 - 0.75**b) for b in (1, 2, 8, 64)]
    assert_allclose(steps, [gb / 3350.0 for gb in expected_gb], rtol=1e-9)


def replace_batch(model: k.ServingModel, batch: int) -> k.ServingModel:
    from dataclasses import replace

    return replace(model, fixed_batch=batch, requests=float(batch))


def test_moe_fields_are_checked_together() -> None:
    base = {"type": "llm_inference", "params_b": 40.0}
    with pytest.raises(ValidationError) as over:
        req(base | {"active_params_b": 41.0})
    assert over.value.errors()[0]["loc"][-1] == "active_params_b"
    with pytest.raises(ValidationError) as orphan:
        req(base | {"n_experts": 8})
    assert orphan.value.errors()[0]["loc"][-1] == "active_params_b"
    with pytest.raises(ValidationError) as routing:
        req(base | {"active_params_b": 10.0, "n_experts": 4, "experts_per_token": 4})
    assert routing.value.errors()[0]["loc"][-1] == "experts_per_token"


# ---- serving modes --------------------------------------------------------------------------------------------------


def test_throughput_mode_holds_the_tokens_in_flight_not_the_longest_context() -> None:
    body = {
        "type": "llm_inference",
        "model": "Llama 3.1 8B",
        "precision": "bf16",
        "context_tokens": 8192,
        "prompt_tokens": 1000,
        "output_tokens": 200,
        "requests": 10_000,
        "gpu_count": 1,
    }
    throughput = plan(body | {"mode": "throughput"}, "A100-80GB")
    latency = plan(body | {"concurrency": 64}, "A100-80GB")
    assert latency.reason == "insufficient_memory_at_gpu_count"  # 64 x 8,192 tokens x 128 KiB = 69 GB of KV
    assert throughput.feasible
    kv_per_token = 2 * 32 * 8 * 128 * 2 / 1e9
    reserve = w.RUNTIME_RESERVE_GB + w.PREFILL_CHUNK_TOKENS * 4096 * w.ACTIVATION_BYTES_PER_TOKEN_HIDDEN / 1e9
    free = 80 * w.USABLE_GB_PER_LABEL_GB - reserve - 8.03 * 2
    held = int(free / (kv_per_token * (1000 + 200 / 2)))
    assert throughput.metrics["batch_per_replica"] == min(w.MAX_NUM_SEQS, held)
    capped = plan(body | {"mode": "throughput", "concurrency": 32}, "A100-80GB")
    assert capped.metrics["batch_per_replica"] == 32  # a given concurrency caps the batch
    assert throughput.est_tokens_per_s is not None and capped.est_tokens_per_s is not None
    assert throughput.est_tokens_per_s > 2 * capped.est_tokens_per_s


def test_decode_cost_grows_with_the_kv_cache_read_at_long_outputs() -> None:
    base = {"type": "llm_inference", "model": "Llama 3.1 8B", "concurrency": 4, "gpu_count": 1}
    short = plan(base | {"context_tokens": 1024, "output_tokens": 256}, "H100-SXM")
    long = plan(base | {"context_tokens": 32768, "output_tokens": 16384}, "H100-SXM")
    assert long.metrics["decode_step_ms"] > 1.5 * short.metrics["decode_step_ms"]  # 13 GB of KV over 16 GB weights


# ---- replicas vs tensor parallelism ---------------------------------------------------------------------------------


def test_eight_gpus_serve_a_small_model_as_replicas_and_a_single_stream_with_tensor_parallelism() -> None:
    small = {"type": "llm_inference", "model": "Llama 3.1 8B", "mode": "throughput", "requests": 100_000}
    p = plan(small | {"gpu_count": 8}, "H100-SXM")
    assert p.metrics["tensor_parallel"] == 1 and p.metrics["replicas"] == 8
    assert any("8 replicas x tensor parallel 1" in a for a in p.assumptions)
    one = plan(small | {"gpu_count": 1}, "H100-SXM")
    assert p.est_hours is not None and one.est_hours is not None
    assert p.est_hours == pytest.approx(one.est_hours / 8, rel=1e-6)  # replicas scale linearly
    stream = {"type": "llm_inference", "model": "Llama 3 70B", "context_tokens": 4096, "gpu_count": 8}
    q = plan(stream, "H100-SXM")
    assert q.metrics["tensor_parallel"] == 8 and q.metrics["replicas"] == 1
    assert any("tensor parallel 8" in a for a in q.assumptions)


def test_the_chosen_layout_is_the_fastest_valid_one() -> None:
    """At 8 GPUs, each layout is some count t's best layout repeated 8/t times with the requests split: the choice
    at 8 is never slower than any of them, and equals the fastest."""
    from dataclasses import replace

    model = k.ServingModel(
        dense_gb=30.0, expert_gb=0.0, expert_share=0.0, kv_gb_per_token=1e-4, kv_read_tokens=1000.0,
        kv_held_tokens=2000.0, reserve_gb=1.0, decode_flops_per_token=6e10, prefill_flops_per_seq=6e13,
        output_tokens=200.0, requests=4096.0, fixed_batch=0, batch_cap=256,
    )  # fmt: skip
    bw, fl, usable = np.array([2000.0, 900.0]), np.array([300.0, 120.0]), np.array([40.0, 24.0])
    effs = {"bandwidth_efficiency": 0.6, "compute_efficiency": 0.5, "beta": 0.9}
    chosen = k.llm_serving(bw, fl, usable, np.array([8, 8]), model, **effs)
    for g in range(2):
        times = []
        for t in (1, 2, 4, 8):
            part = replace(model, requests=model.requests * t / 8)
            alone = k.llm_serving(bw[g : g + 1], fl[g : g + 1], usable[g : g + 1], np.array([t]), part, **effs)
            if alone.tp[0] > 0:
                times.append(float(alone.seconds[0]))
        assert chosen.tp[g] > 0
        assert float(chosen.seconds[g]) == pytest.approx(min(times), rel=1e-9)
    assert chosen.tp[1] > 1  # 30 GB of weights do not fit one 24 GB GPU: at least tensor parallel 2


# ---- training -------------------------------------------------------------------------------------------------------


def test_training_counts_attention_evaluation_checkpoints_and_measured_utilisation() -> None:
    base = {"type": "training", "params_b": 7, "dataset_tokens_b": 100, "gpu_count": 8, "max_gpus": 8}
    short, long = plan(base | {"seq_len": 2048}, "H100-SXM"), plan(base | {"seq_len": 32768}, "H100-SXM")
    assert long.est_hours is not None and short.est_hours is not None
    assert long.est_hours > 1.5 * short.est_hours  # 12 L d s per token overtakes 6 N at long sequences
    with_eval = plan(base | {"eval_fraction": 0.1}, "H100-SXM")
    assert with_eval.est_hours is not None and with_eval.est_hours > short.est_hours
    ckpt = plan(base | {"checkpoint_interval_hours": 0.5}, "H100-SXM")
    assert ckpt.est_hours is not None and ckpt.est_hours > short.est_hours
    a100, h100 = plan(base, "A100-80GB"), plan(base, "H100-SXM")
    assert a100.metrics["mfu"] == w.TRAINING_MFU["Ampere"] and h100.metrics["mfu"] == w.TRAINING_MFU["Hopper"]
    fp8 = plan(base | {"precision": "fp8"}, "H100-SXM")
    assert fp8.metrics["mfu"] == pytest.approx(w.TRAINING_MFU["Hopper"] * w.FP8_MFU_RATIO)
    given = plan(base | {"utilisation": 0.3}, "H100-SXM")
    assert given.metrics["mfu"] == 0.3


def test_a_named_moe_trains_on_its_active_parameters() -> None:
    body = {"type": "training", "model": "mixtral 8x7b", "dataset_tokens_b": 1, "method": "lora"}
    needs = requirement(body)
    assert needs.memory_breakdown_gb["frozen_weights"] == pytest.approx(46.7 * 2)
    assert any("12.9B active of 46.7B" in a for a in needs.assumptions)


# ---- video models -----------------------------------------------------------------------------------------------


def test_a_named_video_model_takes_its_dit_shape_and_guidance() -> None:
    clip = {"type": "video_processing", "task": "diffusion_video", "width": 1280, "height": 720, "fps": 24,
            "duration_s": 129 / 24}  # fmt: skip
    hunyuan = req(clip | {"model": "hunyuan video"})
    assert (hunyuan.params_b, hunyuan.n_layers, hunyuan.hidden, hunyuan.guidance) == (13.0, 60, 3072, False)
    distilled = plan(clip | {"model": "hunyuan video"}, "A100-80GB")
    guided = plan(clip | {"model": "hunyuan video", "guidance": True}, "A100-80GB")
    assert distilled.est_hours is not None and guided.est_hours is not None
    assert guided.est_hours == pytest.approx(2 * distilled.est_hours)


# ---- uncertainty ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"type": "llm_inference", "params_b": 8},
        {"type": "training", "params_b": 7, "dataset_tokens_b": 1},
        {"type": "image_generation"},
        {"type": "video_processing", "task": "upscale", "duration_s": 10},
        {"type": "data_processing", "operation": "etl", "dataset_gb": 10},
    ],
)
def test_every_estimate_carries_its_band(body: dict[str, Any]) -> None:
    needs, plans = plan_workload(req(body), specs=SPECS, prices=None)
    band = needs.uncertainty
    assert 0 < band.time_low <= 1 <= band.time_high and band.memory_low <= 1 <= band.memory_high
    assert (band.time_low, band.time_high) == w.TIME_BANDS[body["type"]][:2]
    assert "uncertainty" in needs.sources
    lines = estimate_workload(req(body), specs=SPECS, prices=None).gpus  # the estimate route's short lines too
    every: list[w.GpuPlan | w.GpuFeasibility] = [*plans, *lines]
    for p in every:
        if p.est_hours is None:
            assert p.est_hours_low is None and p.est_hours_high is None
        else:
            assert p.est_hours_low == pytest.approx(p.est_hours * band.time_low)
            assert p.est_hours_high == pytest.approx(p.est_hours * band.time_high)


def test_a_fixed_count_that_is_not_a_power_of_two_serves_as_one_group() -> None:
    """Llama 3.1 405B in bf16 needs ~10 A100-80GB: at exactly 12 (max 12) it runs tensor parallel over all 12."""
    body = {"type": "llm_inference", "model": "Llama 3.1 405B", "precision": "bf16", "context_tokens": 4096,
            "gpu_count": 12, "max_gpus": 12}  # fmt: skip
    p = plan(body, "A100-80GB")
    assert p.feasible and p.gpus_needed == 12 and p.metrics["tensor_parallel"] == 12, p.reason
    assert plan(body | {"gpu_count": 8}, "A100-80GB").reason == "insufficient_memory_at_gpu_count"


# ---- optimizer memory, FSDP network, engine memory share (issue 14, second pass) ---------------------------------

FULL_8B = {"type": "training", "params_b": 8.03, "dataset_tokens_b": 0.01, "gpu_count": 1, "micro_batch_size": 2}


def test_paged_optimizer_states_leave_the_gpu_and_the_low_memory_recipe_fits_24_gb() -> None:
    adamw = plan(FULL_8B, "RTX-4090")
    assert adamw.reason == "insufficient_memory_at_gpu_count"  # 16 B/param: 128 GB of states
    paged = requirement(FULL_8B | {"optimizer": "paged_adamw_8bit"})
    unpaged = requirement(FULL_8B | {"optimizer": "adam8bit"})
    # 2 B/param of 8-bit states no longer on the GPU; the states still cost the same in a checkpoint
    assert_allclose(
        unpaged.memory_breakdown_gb["trainable_states"] - paged.memory_breakdown_gb["trainable_states"],
        8.03 * 2,
        rtol=1e-9,
    )
    torchtune = FULL_8B | {"optimizer": "paged_adamw_8bit", "optimizer_in_backward": True, "mixed_precision": False}
    lean = requirement(torchtune)
    assert_allclose(lean.memory_breakdown_gb["trainable_states"], 8.03 * 2, rtol=1e-9)  # bf16 weights only
    assert plan(torchtune, "RTX-4090").feasible
    assert any("paged to CPU RAM" in a and "no fp32 master" in a for a in lean.assumptions)


def test_fsdp_traffic_over_the_nodes_network_bounds_multi_node_time_only() -> None:
    body = {"type": "training", "params_b": 69.0, "dataset_tokens_b": 0.016384, "seq_len": 2048}
    single = plan(body | {"gpu_count": 8}, "A100-80GB")
    assert single.est_hours == plan(body | {"gpu_count": 8, "internode_gbps": 400}, "A100-80GB").est_hours
    fast = plan(body | {"gpu_count": 16}, "A100-80GB")
    slow = plan(body | {"gpu_count": 16, "internode_gbps": 400}, "A100-80GB")
    assert fast.est_hours is not None and slow.est_hours is not None
    # 500 steps x 4 x 138 GB x 15/16 at 400 Gbit/s / 8 GPUs = 6.25 GB/s per GPU
    steps = 0.016384e9 / (2048 * 16)
    assert_allclose(slow.est_hours * 3600, steps * 4 * 69.0e9 * 2 * 15 / 16 / 6.25e9, rtol=1e-6)
    assert slow.est_hours > fast.est_hours


def test_the_engine_memory_share_sets_what_fits() -> None:
    body = {"type": "llm_inference", "params_b": 6.74, "n_layers": 32, "hidden": 4096, "n_kv_heads": 32,
            "head_dim": 128, "precision": "fp16", "context_tokens": 2176, "prompt_tokens": 128,
            "output_tokens": 2048, "concurrency": 60, "requests": 60, "gpu_count": 1}  # fmt: skip
    assert plan(body, "A100-80GB").reason == "insufficient_memory_at_gpu_count"  # 68 GB of KV + 13.5 GB of weights
    whole = plan(body | {"gpu_memory_utilization": 1.0}, "A100-80GB")
    assert whole.feasible and whole.memory_per_gpu_gb is not None and whole.memory_per_gpu_gb <= 80 * 2**30 / 1e9
    with pytest.raises(ValidationError):
        req(body | {"gpu_memory_utilization": 1.2})
