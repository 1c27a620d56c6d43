"""Workload estimation and mapping: the three properties over every workload type and every catalog GPU, plus
worked numbers (Llama-2-70B serving, 7B LoRA on 24 GB, 6ND training time) and the 422 combinations."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from pydantic import TypeAdapter, ValidationError

from gpubroker.domain import workloads as w
from gpubroker.domain.errors import ValidationFailed
from gpubroker.domain.gpus import bundled_catalog
from gpubroker.services.workloads import estimate_workload, map_workload_to_gpu, plan_workload
from gpumath import workload as k

SPECS = list(bundled_catalog().gpus)
BY_MODEL = {s.model: s for s in SPECS}
ADAPTER: TypeAdapter[Any] = TypeAdapter(w.WorkloadRequest)
PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HOURS = 3600.0


def req(body: dict[str, Any]) -> Any:
    return ADAPTER.validate_python(body)


def plans_by_model(body: dict[str, Any], prices: Any = None) -> dict[str, w.GpuPlan]:
    _, plans = plan_workload(req(body), specs=SPECS, prices=prices)
    return {p.gpu_model: p for p in plans}


# ---- strategies: valid requests of every type ---------------------------------------------------------------------

params_b = st.floats(0.1, 600, allow_nan=False)
deadline = st.none() | st.floats(0.01, 5000)


@st.composite
def llm_inference(draw: st.DrawFn) -> dict[str, Any]:
    context = draw(st.integers(2, 262_144))
    concurrency = draw(st.integers(1, 256))
    body: dict[str, Any] = {
        "type": "llm_inference",
        "params_b": draw(params_b),
        "precision": draw(st.sampled_from(["fp32", "fp16", "bf16", "fp8", "int8", "int4"])),
        "context_tokens": context,
        "output_tokens": draw(st.integers(1, context - 1)),
        "concurrency": concurrency,
        "requests": draw(st.none() | st.integers(concurrency, 100_000)),
        "target_tokens_per_s": draw(st.none() | st.floats(1, 50_000)),
        "max_gpus": draw(st.integers(1, 64)),
    }
    if draw(st.booleans()):
        body |= {"n_layers": draw(st.integers(1, 128)), "hidden": 128 * draw(st.integers(8, 128))}
        body["n_kv_heads"] = draw(st.integers(1, 8))
    if draw(st.booleans()):  # issue 14: serving mode, mean prompt, mixture of experts
        body["mode"] = draw(st.sampled_from(["latency", "throughput"]))
        body["prompt_tokens"] = draw(st.integers(1, context - body["output_tokens"]))
        if draw(st.booleans()):
            experts = draw(st.integers(2, 256))
            body |= {
                "active_params_b": max(0.01, body["params_b"] * draw(st.floats(0.02, 1.0))),  # the field's minimum
                "n_experts": experts,
                "experts_per_token": draw(st.integers(1, min(64, experts - 1))),
            }
    return body


@st.composite
def training(draw: st.DrawFn) -> dict[str, Any]:
    method = draw(st.sampled_from(["full", "lora", "qlora"]))
    precisions = ["fp16", "bf16"] if method == "qlora" else ["fp32", "fp16", "bf16", "fp8"]
    return {
        "type": "training",
        "params_b": draw(params_b),
        "dataset_tokens_b": draw(st.floats(0.001, 20_000)),
        "epochs": draw(st.floats(0.1, 10)),
        "precision": draw(st.sampled_from(precisions)),
        "optimizer": draw(
            st.sampled_from(["adamw", "adafactor", "sgd", "adam8bit", "paged_adamw", "paged_adamw_8bit"])
        ),
        "method": method,
        "lora_fraction": draw(st.floats(0.001, 0.5)),
        "utilisation": draw(st.floats(0.05, 0.8)),
        "seq_len": draw(st.integers(16, 65_536)),
        "micro_batch_size": draw(st.integers(1, 64)),
        "gradient_checkpointing": draw(st.booleans()),
        "deadline_hours": draw(deadline),
        "max_gpus": draw(st.integers(1, 2048)),
    }


@st.composite
def image_generation(draw: st.DrawFn) -> dict[str, Any]:
    images = draw(st.integers(1, 100_000))
    return {
        "type": "image_generation",
        "model_family": draw(st.sampled_from(["sd15", "sdxl", "sd3", "flux-dev", "flux-schnell"])),
        "precision": draw(st.sampled_from(["fp32", "fp16", "bf16", "fp8"])),
        "width": 8 * draw(st.integers(8, 512)),
        "height": 8 * draw(st.integers(8, 512)),
        "steps": draw(st.none() | st.integers(1, 150)),
        "images": images,
        "batch": draw(st.integers(1, min(images, 16))),
        "deadline_hours": draw(deadline),
        "max_gpus": draw(st.integers(1, 512)),
    }


@st.composite
def video_processing(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "type": "video_processing",
        "task": draw(st.sampled_from(["transcode", "upscale", "frame_interpolation", "diffusion_video"])),
        "codec": draw(st.sampled_from(["h264", "hevc", "av1"])),
        "width": draw(st.integers(16, 4096)),
        "height": draw(st.integers(16, 4096)),
        "fps": draw(st.floats(1, 120)),
        "duration_s": draw(st.floats(0.1, 7200)),
        "scale": draw(st.sampled_from([2, 4])),
        "interpolation_factor": draw(st.integers(2, 8)),
        "params_b": draw(st.floats(0.1, 50)),
        "precision": draw(st.sampled_from(["fp32", "fp16", "bf16", "fp8"])),
        "steps": draw(st.integers(1, 100)),
        "clips": draw(st.integers(1, 20)),
        "deadline_hours": draw(deadline),
        "max_gpus": draw(st.integers(1, 512)),
    }


@st.composite
def data_processing(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "type": "data_processing",
        "operation": draw(st.sampled_from(["etl", "embedding", "dedupe"])),
        "dataset_gb": draw(st.floats(0.001, 1_000_000)),
        "model_params_b": draw(st.floats(0.001, 100)),
        "precision": draw(st.sampled_from(["fp32", "fp16", "bf16", "fp8"])),
        "deadline_hours": draw(deadline),
        "max_gpus": draw(st.integers(1, 512)),
    }


ANY_WORKLOAD = st.one_of(llm_inference(), training(), image_generation(), video_processing(), data_processing())
# the size knob per type: more of it means a bigger model
PARAM_FIELD = {"llm_inference": "params_b", "training": "params_b", "data_processing": "model_params_b"}
prices_strategy = st.none() | st.dictionaries(
    st.sampled_from([s.model for s in SPECS]), st.tuples(st.floats(0.01, 50), st.just("offer-1")), max_size=36
)


# ---- property: workload mapping completeness ----------------------------------------------------------------------


@PROPS
@given(ANY_WORKLOAD, prices_strategy)
def test_every_workload_and_every_gpu_has_a_plan_or_a_reason(body: dict[str, Any], prices: Any) -> None:
    request = req(body)
    estimate = estimate_workload(request, specs=SPECS, prices=prices)
    assert [g.gpu_model for g in estimate.gpus] == [s.model for s in SPECS]
    mapping = map_workload_to_gpu(request, specs=SPECS, prices=prices, top=100)
    plans = mapping.plans + mapping.infeasible
    assert len(plans) + mapping.more_feasible == len(SPECS)
    if mapping.more_feasible == 0:
        assert sorted(p.gpu_model for p in plans) == sorted(s.model for s in SPECS)
    assert mapping.requirement.memory_required_gb > 0 and math.isfinite(mapping.requirement.memory_required_gb)
    for p in plans:
        assert p.memory_per_gpu_gb > 0 and math.isfinite(p.memory_per_gpu_gb)
        if p.feasible:
            assert p.reason is None
            assert p.gpus_needed is not None and 1 <= p.gpus_needed <= request.max_gpus
            assert p.est_hours is not None and 0 < p.est_hours < math.inf
            assert p.memory_per_gpu_gb <= BY_MODEL[p.gpu_model].memory_gb * w.USABLE_GB_PER_LABEL_GB + 1e-6
            if prices is not None:
                assert p.est_cost_usd is not None and p.est_cost_usd > 0 and p.offer_id is not None
        else:
            assert p.reason in w.REASONS
            assert p.est_cost_usd is None
            if p.reason == "no_offers":
                assert prices is not None and p.gpu_model not in prices and p.gpus_needed is not None
            else:
                assert p.gpus_needed is None and p.est_hours is None
    costs = [(p.est_cost_usd or math.inf, p.est_hours or math.inf) for p in mapping.plans]
    assert costs == sorted(costs)
    lines = {g.gpu_model: g for g in estimate.gpus}
    for p in plans:
        assert (lines[p.gpu_model].feasible, lines[p.gpu_model].reason) == (p.feasible, p.reason)


# ---- property: more parameters never need less memory -------------------------------------------------------------


def _memory(body: dict[str, Any]) -> tuple[float, dict[str, float]]:
    try:
        _, plans = plan_workload(req(body), specs=SPECS, prices=None)
    except (ValidationError, ValidationFailed):  # a combination the model refuses, or a GPU name the catalog lacks
        assume(False)
        raise
    return plans[0].memory_required_gb, {p.gpu_model: p.memory_per_gpu_gb for p in plans}


@PROPS
@given(
    st.one_of(llm_inference(), training(), data_processing(), video_processing()),
    st.floats(0.1, 50),
    st.floats(1.0, 20.0),
    st.integers(1, 64),
)
def test_more_parameters_never_need_less_memory(body: dict[str, Any], p: float, factor: float, count: int) -> None:
    field = PARAM_FIELD.get(body["type"], "params_b")
    if body["type"] == "video_processing":
        body = body | {"task": "diffusion_video"}
    if body["type"] == "data_processing":
        body = body | {"operation": "embedding"}
    body = body | {"gpu_count": count, "max_gpus": max(count, body["max_gpus"])}
    small = body | {field: p}
    cap = {"data_processing": 100.0, "video_processing": 200.0}.get(body["type"], 2000.0)
    big = body | {field: min(p * factor, cap)}
    total_small, per_gpu_small = _memory(small)
    total_big, per_gpu_big = _memory(big)
    assert total_big >= total_small - 1e-9
    for model, gb in per_gpu_small.items():
        assert per_gpu_big[model] >= gb - 1e-9


@PROPS
@given(image_generation(), st.integers(0, 4), st.integers(0, 4))
def test_bigger_image_families_never_need_less_memory(body: dict[str, Any], a: int, b: int) -> None:
    by_size = sorted(w.IMAGE_FAMILY, key=lambda f: w.IMAGE_FAMILY[f].denoiser_b + w.IMAGE_FAMILY[f].other_b)
    lo, hi = sorted((a, b))
    small, _ = _memory(body | {"model_family": by_size[lo]})
    big, _ = _memory(body | {"model_family": by_size[hi]})
    assert big >= small


# ---- property: more GPUs never increase estimated time ------------------------------------------------------------


@PROPS
@given(ANY_WORKLOAD, st.integers(1, 64), st.integers(1, 64))
def test_more_gpus_never_increase_time(body: dict[str, Any], a: int, b: int) -> None:
    few, many = sorted((a, b))
    body = body | {"max_gpus": max(many, body["max_gpus"])}
    with_few = plans_by_model(body | {"gpu_count": few})
    with_many = plans_by_model(body | {"gpu_count": many})
    for model, p in with_few.items():
        q = with_many[model]
        if p.feasible:
            assert q.feasible, (model, q.reason)  # more GPUs never make a feasible plan infeasible
            assert q.est_hours is not None and p.est_hours is not None
            assert q.est_hours <= p.est_hours * (1 + 1e-12)
            assert q.memory_per_gpu_gb <= p.memory_per_gpu_gb + 1e-9


@given(
    st.lists(st.floats(1e-6, 1e9), min_size=1, max_size=36),
    st.floats(0.5, 1.0),
    st.integers(1, 100_000),
)
def test_kernel_time_is_monotone_in_gpu_count(seconds: list[float], beta: float, jobs: int) -> None:
    counts = np.arange(1, 129, dtype=np.int64)
    t = k.seconds_at_counts(np.array(seconds), counts, beta)
    assert np.all(np.diff(t, axis=1) <= 1e-9 * t[:, :-1])
    assert np.all(t[:, 1:] >= t[:, :1] / counts[None, 1:] - 1e-9)  # efficiency <= 1: never superlinear
    r = k.replicated_seconds_at_counts(np.array(seconds), jobs, counts)
    assert np.all(np.diff(r, axis=1) <= 0)


# ---- worked numbers -----------------------------------------------------------------------------------------------


def test_llama2_70b_fp16_needs_more_than_140_gb_and_at_least_two_80gb_gpus() -> None:
    body = {"type": "llm_inference", "params_b": 70, "precision": "fp16", "context_tokens": 4096}
    plans = plans_by_model(body)
    assert plans["H100-SXM"].memory_required_gb > 140
    for model in ("A100-80GB", "H100-SXM", "H100-PCIe"):
        assert plans[model].feasible and (plans[model].gpus_needed or 0) >= 2
        assert plans[model].gpus_needed in (2, 4, 8)  # tensor-parallel counts
    assert plans["MI300X"].gpus_needed == 1  # 192 GB
    assert plans["RTX-3070"].reason == "insufficient_memory_even_at_max_gpus"  # 8 x 8 GB cannot hold 154 GB


def test_kv_cache_of_a_llama3_8b_shape_is_128_kib_per_token() -> None:
    body = {
        "type": "llm_inference",
        "params_b": 8,
        "context_tokens": 8192,
        "concurrency": 4,
        "n_layers": 32,
        "hidden": 4096,
        "n_kv_heads": 8,
    }
    requirement, _ = plan_workload(req(body), specs=SPECS, prices=None)
    assert_allclose(requirement.memory_breakdown_gb["kv_cache"], 131_072 * 8192 * 4 / 1e9, rtol=1e-6)
    assert_allclose(requirement.memory_breakdown_gb["weights"], 16.0)


def test_decode_is_bandwidth_bound_at_batch_one() -> None:
    p = plans_by_model({"type": "llm_inference", "params_b": 7, "precision": "fp16", "context_tokens": 2048})[
        "H100-SXM"
    ]
    assert p.bottleneck == "memory_bandwidth"
    expected = 3350e9 * w.DECODE_BANDWIDTH_EFFICIENCY / 14e9  # ~144 tokens/s, weights dominate the bytes
    assert p.est_tokens_per_s is not None and 0.9 * expected < p.est_tokens_per_s <= expected


def test_tokens_per_second_target_adds_gpus_or_says_why_not() -> None:
    base = {"type": "llm_inference", "params_b": 7, "precision": "fp16", "context_tokens": 2048, "concurrency": 1}
    one = plans_by_model(base)["A10"]
    assert one.gpus_needed == 1 and one.est_tokens_per_s is not None
    more = plans_by_model(base | {"target_tokens_per_s": one.est_tokens_per_s * 2})["A10"]
    assert more.gpus_needed is not None and more.gpus_needed > 1
    assert more.est_tokens_per_s is not None and more.est_tokens_per_s >= one.est_tokens_per_s * 2 * (1 - 1e-9)
    never = plans_by_model(base | {"target_tokens_per_s": 1e6})["A10"]
    assert never.reason == "exceeds_max_gpus"
    fixed = plans_by_model(base | {"target_tokens_per_s": 1e6, "gpu_count": 2})["A10"]
    assert fixed.reason == "target_not_met"


def test_7b_lora_fits_one_24gb_gpu() -> None:
    body = {"type": "training", "params_b": 7, "dataset_tokens_b": 0.05, "method": "lora", "precision": "bf16"}
    plans = plans_by_model(body)
    for model in ("RTX-4090", "RTX-3090", "A10", "L4"):
        assert plans[model].gpus_needed == 1, model
    assert plans["T4"].reason == "precision_unsupported"  # Turing has no bf16
    qlora = plans_by_model(body | {"method": "qlora", "precision": "fp16"})
    assert qlora["T4"].gpus_needed == 1  # 4-bit base weights fit 16 GB


def test_7b_full_training_needs_16_bytes_per_param_and_shards() -> None:
    requirement, _ = plan_workload(
        req({"type": "training", "params_b": 7, "dataset_tokens_b": 1}), specs=SPECS, prices=None
    )
    assert_allclose(requirement.memory_breakdown_gb["trainable_states"], 7 * 16)
    plans = plans_by_model({"type": "training", "params_b": 7, "dataset_tokens_b": 1})
    assert plans["H100-SXM"].gpus_needed == 2  # 112 GB of states over 72 GB usable per GPU


def test_training_time_follows_6nd_plus_attention() -> None:
    body = {"type": "training", "params_b": 7, "dataset_tokens_b": 1000, "gpu_count": 8, "max_gpus": 8}
    p = plans_by_model(body | {"utilisation": 0.4})["H100-SXM"]  # a given utilisation is MFU: model FLOPs only
    peak = 989.4e12
    shape = w.llama_shape(7)  # 33 layers, hidden 4224
    attention = 12 * shape.n_layers * shape.hidden * 2048  # PaLM's 12 L d s per token at the default seq_len
    flops = (6 * 7e9 + attention) * 1e12
    exact = flops / (8**w.BETA_DATA_PARALLEL * peak * 0.4) / HOURS
    assert p.est_hours is not None
    assert_allclose(p.est_hours, exact, rtol=1e-9)
    assert_allclose(p.est_hours, flops / (8 * peak * 0.4) / HOURS, rtol=0.1)  # ~3,700 h
    assert p.est_tokens_per_s is not None
    assert_allclose(p.est_tokens_per_s, 1e12 / (exact * HOURS), rtol=1e-9)


def test_training_deadline_buys_gpus_up_to_max() -> None:
    body = {"type": "training", "params_b": 7, "dataset_tokens_b": 1000, "deadline_hours": 24 * 30}
    p = plans_by_model(body)["H100-SXM"]
    assert p.gpus_needed is not None and p.est_hours is not None
    assert p.gpus_needed % 8 == 0 and p.est_hours <= 24 * 30
    assert plans_by_model(body | {"max_gpus": 8})["H100-SXM"].reason == "exceeds_max_gpus"


def test_fp8_needs_hopper_ada_or_later() -> None:
    plans = plans_by_model({"type": "llm_inference", "params_b": 8, "precision": "fp8", "context_tokens": 4096})
    assert plans["A100-80GB"].reason == "precision_unsupported"
    assert plans["A100-80GB"].bottleneck == "unsupported"
    assert plans["H100-SXM"].feasible and plans["L40S"].feasible and plans["MI300X"].feasible


def test_image_generation_worked_numbers() -> None:
    plans = plans_by_model({"type": "image_generation", "model_family": "flux-dev", "precision": "bf16"})
    assert plans["RTX-4090"].reason == "insufficient_memory_even_at_max_gpus"  # 34 GB of bf16 weights
    assert plans["H100-SXM"].gpus_needed == 1
    seconds = plans["H100-SXM"].metrics["seconds_per_image"]
    assert 3 < seconds < 20  # FLUX.1-dev, 28 steps, 1024^2 on an H100
    fp8 = plans_by_model({"type": "image_generation", "model_family": "flux-dev", "precision": "fp8"})
    assert fp8["RTX-4090"].gpus_needed == 1
    batch = plans_by_model({"type": "image_generation", "model_family": "sd15", "images": 1000, "deadline_hours": 0.1})
    assert batch["RTX-4090"].est_hours is not None and batch["RTX-4090"].est_hours <= 0.1


def test_video_transcode_needs_an_encoder() -> None:
    plans = plans_by_model({"type": "video_processing", "task": "transcode", "duration_s": 600, "codec": "av1"})
    assert plans["H100-SXM"].reason == "no_hardware_encoder"
    assert plans["T4"].reason == "codec_unsupported"
    assert plans["L4"].feasible and plans["L4"].bottleneck == "video_encoder"


def test_wan_14b_720p_clip_takes_about_half_an_hour_on_one_h100() -> None:
    body = {
        "type": "video_processing",
        "task": "diffusion_video",
        "width": 1280,
        "height": 720,
        "fps": 16,
        "duration_s": 81 / 16,
    }
    p = plans_by_model(body)["H100-SXM"]
    assert p.gpus_needed == 1 and p.est_hours is not None and 0.3 < p.est_hours < 1.0


def test_data_processing_bottlenecks() -> None:
    etl = plans_by_model({"type": "data_processing", "operation": "etl", "dataset_gb": 100})
    assert etl["H100-SXM"].bottleneck == "host_io"
    emb = plans_by_model({"type": "data_processing", "operation": "embedding", "dataset_gb": 100})
    assert emb["T4"].bottleneck == "compute"
    assert emb["T4"].est_tokens_per_s is not None


def test_prices_give_cost_and_missing_offers_are_explicit() -> None:
    body = {"type": "llm_inference", "params_b": 70, "precision": "fp16", "requests": 100, "concurrency": 10}
    prices = {"H100-SXM": (2.0, "off-h100"), "A100-80GB": (1.0, "off-a100")}
    mapping = map_workload_to_gpu(req(body), specs=SPECS, prices=prices, top=1)
    assert len(mapping.plans) == 1 and mapping.more_feasible == 1
    best = mapping.plans[0]
    assert best.est_cost_usd is not None and best.est_hours is not None and best.gpus_needed is not None
    assert_allclose(best.est_cost_usd, best.gpus_needed * best.price_per_gpu_hour * best.est_hours)  # type: ignore[operator]
    assert "cost_per_million_output_tokens" in best.metrics
    no_offer = {p.gpu_model: p for p in mapping.infeasible}["B200"]
    assert no_offer.reason == "no_offers" and no_offer.gpus_needed is not None
    estimate = estimate_workload(req(body), specs=SPECS, prices=None)
    assert not estimate.priced and all(g.est_cost_usd is None for g in estimate.gpus)


def test_gpus_filter_accepts_spellings() -> None:
    estimate = estimate_workload(
        req({"type": "data_processing", "operation": "etl", "dataset_gb": 1, "gpus": ["A6000", "H100-SXM"]}),
        specs=SPECS,
        prices=None,
    )
    assert [g.gpu_model for g in estimate.gpus] == ["H100-SXM", "RTX-A6000"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "llm_inference", "params_b": 7, "context_tokens": 256, "output_tokens": 256}, "output_tokens"),
        ({"type": "llm_inference", "params_b": 7, "concurrency": 8, "requests": 4}, "concurrency"),
        ({"type": "llm_inference", "params_b": 7, "hidden": 512, "n_kv_heads": 8, "head_dim": 128}, "n_kv_heads"),
        ({"type": "training", "params_b": 7, "dataset_tokens_b": 1, "precision": "int4"}, "precision"),
        (
            {"type": "training", "params_b": 7, "dataset_tokens_b": 1, "method": "qlora", "precision": "fp32"},
            "precision",
        ),
        ({"type": "training", "params_b": 7, "dataset_tokens_b": 1, "gpu_count": 16, "max_gpus": 8}, "gpu_count"),
        ({"type": "image_generation", "images": 2, "batch": 4}, "batch"),
        ({"type": "image_generation", "width": 1001}, "width"),
        ({"type": "image_generation", "height": 1001}, "height"),
        ({"type": "image_generation", "precision": "int8"}, "precision"),
        ({"type": "video_processing", "task": "upscale", "duration_s": 1, "precision": "int4"}, "precision"),
        (
            {"type": "video_processing", "task": "frame_interpolation", "duration_s": 1, "precision": "int8"},
            "precision",
        ),
        ({"type": "video_processing", "task": "diffusion_video", "duration_s": 1, "precision": "int4"}, "precision"),
        ({"type": "data_processing", "operation": "embedding", "dataset_gb": 1, "precision": "int4"}, "precision"),
    ],
)
def test_bad_combinations_fail_model_validation_on_the_field(body: dict[str, Any], field: str) -> None:
    # each field is in range, the combination is not: the model refuses it (the API answers 422) and names the field
    with pytest.raises(ValidationError) as refused:
        req(body)
    [error] = refused.value.errors()
    assert error["loc"] == (body["type"], field) and error["type"] == "value_error"


@pytest.mark.parametrize(
    "body",
    [
        {"type": "video_processing", "task": "transcode", "duration_s": 1, "precision": "int4"},  # NVENC: no precision
        {"type": "data_processing", "operation": "etl", "dataset_gb": 1, "precision": "int4"},  # no model to run
        {"type": "llm_inference", "params_b": 7, "precision": "int4", "gpu_count": 8, "max_gpus": 8},
    ],
)
def test_a_precision_or_count_that_does_not_apply_is_accepted(body: dict[str, Any]) -> None:
    assert estimate_workload(req(body), specs=SPECS, prices=None).gpus


def test_unknown_gpu_names_are_422() -> None:
    body = {"type": "data_processing", "operation": "etl", "dataset_gb": 1, "gpus": ["NOPE-9000"]}
    with pytest.raises(ValidationFailed):
        estimate_workload(req(body), specs=SPECS, prices=None)


def test_out_of_range_fields_fail_model_validation() -> None:
    for body in (
        {"type": "llm_inference", "params_b": 0.01},
        {"type": "llm_inference", "params_b": 7, "precision": "fp4"},
        {"type": "training", "params_b": 7, "dataset_tokens_b": 1, "optimizer": "lion"},
        {"type": "rendering"},
    ):
        with pytest.raises(ValidationError):
            req(body)


def test_map_top_bounds() -> None:
    with pytest.raises(ValidationFailed):
        map_workload_to_gpu(
            req({"type": "training", "params_b": 1, "dataset_tokens_b": 1}), specs=SPECS, prices=None, top=0
        )


# ---- kernels ------------------------------------------------------------------------------------------------------


def test_valid_gpu_counts() -> None:
    n = np.array([0.2, 1.0, 1.0000000001, 2.5, 5, 8, 8.5, 17, np.inf])
    assert_array_equal(k.valid_gpu_count(n), [1, 1, 1, 4, 8, 8, 16, 24, np.inf])
    assert [k.largest_valid_count(m) for m in (1, 3, 7, 8, 15, 17)] == [1, 2, 4, 8, 8, 16]


def test_kernels_accept_zero_gpu_models() -> None:
    empty = np.zeros(0)
    plan = k.plan_sharded(empty, sharded_gb=10.0, replicated_gb=0.0, seconds_1=empty, beta=0.9, max_gpus=8)
    assert plan.gpus.shape == (0,) and plan.seconds.shape == (0,)
    rep = k.plan_replicated(empty, per_gpu_gb=1.0, seconds_per_job=empty, jobs=3, max_gpus=8, deadline_s=10.0)
    assert rep.reason.shape == (0,)


def test_roofline_reports_the_binding_resource() -> None:
    seconds, bound = k.roofline_seconds([100.0, 10.0], [np.array([10.0, 100.0, 0.0]), np.array([1.0, 1.0, 1.0])])
    assert_allclose(seconds, [10.0, 10.0, np.inf])
    assert_array_equal(bound, [0, 1, 0])
