from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpubroker.domain.gpus import UnknownGpu, bundled_catalog, canonical_gpu, missing_sources


@pytest.mark.parametrize("spelling", ["A6000", "RTXA6000", "RTX-A6000", "rtx a6000", "NVIDIA RTX A6000"])
def test_one_gpu_whatever_the_spelling(spelling: str) -> None:
    assert canonical_gpu(spelling) == "RTX-A6000"


@pytest.mark.parametrize(
    ("raw", "instance", "provider", "memory", "expected"),
    [
        ("H100", "gpu_1x_h100_sxm5", "lambda", 80, "H100-SXM"),
        ("H100", "gpu_1x_h100_pcie", "lambda", 80, "H100-PCIe"),
        ("H100", "1x-H100_NVL-32-65536", "vast", 94, "H100-NVL"),
        ("H100", "1H100.80S.30V", "verda", 80, "H100-SXM"),
        ("H100", "1x_H100_SECURE", "runpod", 80, "H100-PCIe"),
        ("H100-SXM", "1x_H100-SXM_SECURE", "runpod", 80, "H100-SXM"),
        ("A100-80GB-SXM", "1x_A100-80GB-SXM_SECURE", "runpod", 80, "A100-80GB"),
        ("A100-80GB-320GB", "4A100.88V", "verda", 80, "A100-80GB"),
        ("A100", "gpu_8x_a100", "lambda", 40, "A100-40GB"),
        ("A100", "1x-A100_SXM4-32-65536", "vast", 80, "A100-80GB"),
        ("A100", "1x-A100_PCIE-32-65536", "vast", 80, "A100-80GB-PCIe"),
        ("A100-80GB", "A100_PCIE_80GB::1", "fluidstack", 80, "A100-80GB-PCIe"),
        ("A100-80GB", "1x_A100-80GB_SECURE", "runpod", 80, "A100-80GB-PCIe"),
        ("A100", "gpu_1x_a100", "lambda", 40, "A100-40GB-PCIe"),
        ("A100", "gpu_1x_a100_sxm4", "lambda", 40, "A100-40GB"),
        ("V100", "p3.2xlarge", "aws", 16, "V100-16GB"),
        ("V100", "Standard_NC6s_v3", "azure", 16, "V100-16GB-PCIe"),
        ("V100-32GB", "Standard_ND40rs_v2", "azure", 32, "V100-32GB"),
        ("RTX6000", "gpu_1x_rtx6000", "lambda", 24, "Quadro-RTX-6000"),
        ("RTX6000-Ada", "x", "vast", 48, "RTX-6000-Ada"),
        ("RTXPRO6000WS", "x", "vast", 96, "RTX-PRO-6000-WS"),
    ],
)
def test_variants_resolved_from_instance_and_memory(
    raw: str, instance: str, provider: str, memory: float | None, expected: str
) -> None:
    assert canonical_gpu(raw, provider=provider, instance_type=instance, memory_gb=memory) == expected


def test_h100_sxm_pcie_nvl_are_three_gpus() -> None:
    models = {g.model for g in bundled_catalog().gpus}
    assert {"H100-SXM", "H100-PCIe", "H100-NVL"} <= models


def test_ambiguous_h100_is_reported_not_guessed() -> None:
    with pytest.raises(UnknownGpu) as err:
        canonical_gpu("H100", provider="shadeform", instance_type="imwt_H100", memory_gb=80)
    assert err.value.reason == "ambiguous_gpu_variant"
    assert err.value.raw == "H100"


def test_unknown_name_is_reported() -> None:
    with pytest.raises(UnknownGpu) as err:
        canonical_gpu("Voodoo5 6000")
    assert err.value.reason == "unknown_gpu"


@pytest.mark.parametrize("name", ["TPU-v5e", "tpu-v5litepod-8", "Inferentia2", "Trainium", "Gaudi HL-205"])
def test_accelerators_that_are_not_gpus_say_so(name: str) -> None:
    # issue 10: a TPU was counted as an unknown GPU; it is not a GPU at all
    with pytest.raises(UnknownGpu) as err:
        canonical_gpu(name)
    assert err.value.reason == "not_a_gpu"


@pytest.mark.parametrize(
    ("raw", "instance", "provider", "memory"),
    [
        ("V100", "V100", "paperspace", None),  # V100 SXM2 or PCIe, and 16 or 32 GB: nothing says which
        ("Tesla-V100", "1V100.6V", "verda", 16),  # Verda documents no form factor for its V100
        ("H100", "1x-H100", "daytona", 80),  # SXM5 or PCIe: both 80 GB
        ("A100", "x", "vast", None),
    ],
)
def test_variants_without_evidence_are_reported(raw: str, instance: str, provider: str, memory: float | None) -> None:
    with pytest.raises(UnknownGpu) as err:
        canonical_gpu(raw, provider=provider, instance_type=instance, memory_gb=memory)
    assert err.value.reason == "ambiguous_gpu_variant" and len(err.value.candidates) > 1


@given(st.sampled_from([g.model for g in bundled_catalog().gpus]))
def test_canonical_ids_are_fixed_points(model: str) -> None:
    assert canonical_gpu(model) == model
    assert canonical_gpu(canonical_gpu(model)) == model


def test_required_models_present_with_sources() -> None:
    required = {
        "A100-40GB",
        "A100-80GB",
        "H100-SXM",
        "H100-PCIe",
        "H100-NVL",
        "H200",
        "B200",
        "GH200",
        "L40S",
        "L40",
        "L4",
        "A10",
        "A10G",
        "A40",
        "RTX-A6000",
        "RTX-4090",
        "RTX-3090",
        "V100-16GB",
        "V100-32GB",
        "T4",
        "MI300X",
    }
    catalog = bundled_catalog().by_model()
    assert required <= set(catalog)
    for spec in catalog.values():
        assert missing_sources(spec) == [], spec.model
