"""Board-unstated GPU models (``H100-80GB-Any``): an offer whose provider does not say which board it rents is its own
catalog entry with the lowest figures of the boards it may be, never a guess and never dropped (docs/decisions.md,
"Board-unstated GPU models"). Rows whose facts contradict each other stay rejected."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpubroker.domain.gpus import (
    GpuSpec,
    UnknownGpu,
    board_unstated_model,
    bundled_catalog,
    canonical_gpu,
    gpu_models_for,
)
from gpubroker.domain.offers import RawOffer, RejectedRow, gpu_model_of, normalise, to_raw
from gpubroker.domain.providers import PROVIDERS
from tests.fakes import ListSource, World

CATALOG = bundled_catalog()
SPECS = CATALOG.by_model()
UNSTATED = [g for g in CATALOG.gpus if g.board_unstated]
NOW = datetime(2026, 12, 1, tzinfo=UTC)
FIGURES = ("memory_gb", "memory_bandwidth_gbps", "fp16_tensor_tflops", "fp32_tflops", "tdp_w", "release_year")


def test_the_board_unstated_models_are_in_the_catalog() -> None:
    assert {g.model for g in UNSTATED} == {
        "H100-80GB-Any",
        "H200-141GB-Any",
        "A100-80GB-Any",
        "A100-40GB-Any",
        "V100-16GB-Any",
        "V100-32GB-Any",
        "RTX-PRO-6000-Any",
    }


@pytest.mark.parametrize("spec", UNSTATED, ids=lambda g: g.model)
def test_a_board_unstated_model_promises_no_more_than_its_weakest_board(spec: GpuSpec) -> None:
    variants = [SPECS[v] for v in spec.variants]
    assert len(variants) >= 2 and not any(v.board_unstated for v in variants)
    assert spec.form_factor == "unstated" and "does not say which" in spec.name
    assert {spec.vendor} == {v.vendor for v in variants} and {spec.architecture} == {v.architecture for v in variants}
    for figure in FIGURES:
        assert getattr(spec, figure) == min(getattr(v, figure) for v in variants), figure
        source = spec.sources[figure]
        assert source.startswith("lower of ") and all(v in source.split(":")[0] for v in spec.variants), figure
    types = {v.memory_type for v in variants}
    assert spec.memory_type == next(iter(types)) if len(types) == 1 else set(spec.memory_type.split(" or ")) == types
    assert all(v in (spec.notes or "") for v in spec.variants)


@pytest.mark.parametrize(
    ("provider", "gpu", "instance", "memory_gb", "model"),
    [  # real SkyPilot v8 rows whose provider names no form factor or edition
        ("daytona", "H100", "1x-H100", 80.0, "H100-80GB-Any"),
        ("seeweb", "H200", "ECS1GPU10", 141.0, "H200-141GB-Any"),
        ("daytona", "RTXPRO6000", "1x-RTXPRO6000", 96.0, "RTX-PRO-6000-Any"),
        ("lambda", "V100", "gpu_8x_v100", 16.0, "V100-16GB-Any"),
        ("cudo", "V100", "intel-broadwell-v100_1x2v4gb", 16.0, "V100-16GB-Any"),
        ("primeintellect", "A100-80GB", "crusoecloud__1xA100_80GB__12__120", 80.0, "A100-80GB-Any"),
        ("shadeform", "A100", "paperspace_A100", 40.0, "A100-40GB-Any"),
        ("shadeform", "V100-32GB", "paperspace_V100-32GB", 32.0, "V100-32GB-Any"),
    ],
)
def test_a_row_that_leaves_the_board_out_is_the_board_unstated_model(
    provider: str, gpu: str, instance: str, memory_gb: float, model: str
) -> None:
    # the resolver still calls the spelling ambiguous (the spelling corpus is unchanged) ...
    with pytest.raises(UnknownGpu) as err:
        canonical_gpu(gpu, provider=provider, instance_type=instance, memory_gb=memory_gb)
    assert err.value.reason == "ambiguous_gpu_variant" and not err.value.conflicting
    # ... and the -Any entry's variants are exactly the boards it leaves open
    assert err.value.candidates == SPECS[model].variants
    raw = _raw(provider, gpu, instance, memory_gb)
    assert gpu_model_of(raw) == model
    if provider in PROVIDERS:  # an offer of a catalog-only cloud needs its provider registered first
        offer = normalise(raw, as_of=NOW, specs=SPECS)
        assert (offer.gpu_model, offer.gpu_memory_gb, offer.form_factor) == (model, SPECS[model].memory_gb, None)


@pytest.mark.parametrize(
    ("provider", "gpu", "instance", "memory_gb"),
    [  # the row's own facts contradict each other: no consistent reading, so no board-unstated model either
        ("spheron", "H100_NVL", "n3-H100x8-NVLink__CANADA-1", 80.0),  # an NVL name at the SXM/PCIe memory
        ("spheron", "A100_80G_PCIE", "gpu_1x_a100_SXM4_us-central-3", 80.0),  # a PCIe name on an SXM4 instance
    ],
)
def test_a_row_whose_facts_contradict_each_other_stays_rejected(
    provider: str, gpu: str, instance: str, memory_gb: float
) -> None:
    with pytest.raises(UnknownGpu) as err:
        canonical_gpu(gpu, provider=provider, instance_type=instance, memory_gb=memory_gb)
    assert err.value.conflicting
    with pytest.raises(RejectedRow) as rejected:
        gpu_model_of(_raw(provider, gpu, instance, memory_gb))
    assert rejected.value.reason == "ambiguous_gpu_variant"


def test_the_smallest_entry_holding_every_candidate_is_chosen() -> None:
    assert board_unstated_model(("RTX-PRO-6000-MaxQ", "RTX-PRO-6000-WS")) == "RTX-PRO-6000-Any"
    assert board_unstated_model(("H100-NVL", "H100-PCIe", "H100-SXM")) is None  # no entry holds the NVL card
    assert board_unstated_model(("H100-SXM",)) is None
    assert board_unstated_model(("A100-40GB", "A100-80GB")) is None  # two memories are two products, not a board


@pytest.mark.parametrize("spec", UNSTATED, ids=lambda g: g.model)
def test_search_finds_it_under_a_spelling_of_every_board_it_may_be_and_not_under_one_board(spec: GpuSpec) -> None:
    assert gpu_models_for(spec.model) == (spec.model,)
    assert gpu_models_for(spec.model.lower()) == (spec.model,)
    for variant in spec.variants:
        assert spec.model not in gpu_models_for(variant)  # gpu=H100-SXM: the offer may be the PCIe card
    assert canonical_gpu(spec.model) == spec.model


@pytest.mark.parametrize(
    ("spelling", "model"),
    [
        ("H100", "H100-80GB-Any"),
        ("h100 80gb", "H100-80GB-Any"),
        ("V100", "V100-16GB-Any"),
        ("A100 80GB", "A100-80GB-Any"),
        ("RTX PRO 6000", "RTX-PRO-6000-Any"),
        ("H200 141GB", "H200-141GB-Any"),
    ],
)
def test_a_family_spelling_includes_the_board_unstated_model(spelling: str, model: str) -> None:
    assert model in gpu_models_for(spelling)


@given(
    st.sampled_from(UNSTATED),
    st.sampled_from(sorted(PROVIDERS)),
    st.sampled_from(["1x-H100", "gpu_8x_v100", "p4d.24xlarge", "x_SECURE", "a3-highgpu-8g"]),
)
def test_an_offer_of_a_board_unstated_model_round_trips(spec: GpuSpec, provider: str, instance: str) -> None:
    # normalise(to_raw(o)) == o whatever the provider and instance (the offer idempotence property)
    offer = normalise(_raw(provider, spec.model, instance, spec.memory_gb), as_of=NOW, specs=SPECS)
    assert offer.gpu_model == spec.model
    assert normalise(to_raw(offer), as_of=NOW, specs=SPECS) == offer


def test_the_run_report_counts_board_unstated_offers_apart() -> None:
    rows: list[RawOffer | RejectedRow] = [
        _raw("shadeform", "H100", "lambdalabs_H100", 80.0),  # Lambda's one plain H100 type is PCIe: a specific board
        _raw("shadeform", "H100", "scaleway_H100", 80.0),
        _raw("shadeform", "H100", "scaleway_H100x2", 80.0, count=2),
        _raw("shadeform", "RTXPro6000", "massedcompute_RTXPro6000", 96.0),
        _raw("shadeform", "A100_80G_PCIE", "gpu_1x_a100_SXM4", 80.0),  # PCIe name, SXM4 instance: contradiction
    ]
    report = World().run(ListSource("shadeform", rows))
    assert report.accepted == 4
    assert report.variant_unstated == {"H100-80GB-Any": 2, "RTX-PRO-6000-Any": 1}
    assert report.rejected == {"ambiguous_gpu_variant": 1} and report.unknown_gpus == ["A100_80G_PCIE"]


def _raw(provider: str, gpu: str, instance: str, memory_gb: float, *, count: float = 1.0) -> RawOffer:
    return RawOffer(
        provider=provider,
        instance_type=instance,
        region="us-east-1",
        gpu_name=gpu,
        gpu_count=count,
        gpu_memory_gb=memory_gb,
        price_per_hour=2.0 * count,
    )
