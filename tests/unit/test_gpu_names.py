"""GPU names as the world spells them (issue 10): NVML product names, cloud API names, marketplace and SkyPilot
names, instance types; the family spellings a user types; and the facts a row carries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpubroker.domain.gpu_names import NVL, PCIE, SXM, instance_facts, parse_name
from gpubroker.domain.gpus import UnknownGpu, bundled_catalog, canonical_gpu, descriptive_name, gpu_models_for

MODELS = [g.model for g in bundled_catalog().gpus]


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        # nvidia-smi / NVML product names
        ("NVIDIA A100-SXM4-80GB", "A100-80GB"),
        ("NVIDIA A100-SXM4-40GB", "A100-40GB"),
        ("NVIDIA A100 80GB PCIe", "A100-80GB-PCIe"),
        ("NVIDIA A100-PCIE-40GB", "A100-40GB-PCIe"),
        ("NVIDIA H100 80GB HBM3", "H100-SXM"),
        ("NVIDIA H100 PCIe", "H100-PCIe"),
        ("NVIDIA H100 NVL", "H100-NVL"),
        ("NVIDIA H200 NVL", "H200-NVL"),
        ("Tesla V100-SXM2-32GB", "V100-32GB"),
        ("Tesla V100-SXM2-16GB", "V100-16GB"),
        ("Tesla V100-PCIE-16GB", "V100-16GB-PCIe"),
        ("Tesla V100S-PCIE-32GB", "V100S"),
        ("Tesla T4", "T4"),
        ("Tesla P100-PCIE-16GB", "P100-16GB-PCIe"),
        ("NVIDIA RTX 6000 Ada Generation", "RTX-6000-Ada"),
        ("NVIDIA RTX 4000 SFF Ada Generation", "RTX-4000-SFF-Ada"),
        ("NVIDIA GeForce RTX 4090", "RTX-4090"),
        ("NVIDIA GeForce RTX 3080 Ti", "RTX-3080-Ti"),
        ("NVIDIA GeForce RTX 4080 SUPER", "RTX-4080-SUPER"),
        ("NVIDIA RTX A6000", "RTX-A6000"),
        ("Quadro RTX 6000", "Quadro-RTX-6000"),
        ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "RTX-PRO-6000"),
        ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "RTX-PRO-6000-WS"),
        ("NVIDIA L40S", "L40S"),
        ("NVIDIA A10G", "A10G"),
        ("AMD Instinct MI300X", "MI300X"),
        ("AMD Instinct MI300X OAM", "MI300X"),
        # cloud API names
        ("nvidia-tesla-t4", "T4"),
        ("nvidia-h100-mega-80gb", "H100-SXM"),  # GCP a3-megagpu: the SXM H100 with more NICs
        ("nvidia-l4", "L4"),
        ("T4g", "T4"),  # AWS g5g: the T4 board behind a Graviton host
        ("AMD Radeon Pro V520", "Radeon-Pro-V520"),
        # marketplace and SkyPilot names
        ("RTX6000-Ada", "RTX-6000-Ada"),
        ("RTX4000Ada", "RTX-4000-Ada"),
        ("RTXPRO6000WS", "RTX-PRO-6000-WS"),
        ("RTX PRO Server 6000", "RTX-PRO-6000"),  # AWS g7e
        ("NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", "RTX-PRO-6000-MaxQ"),
        ("NVIDIA RTX 6000 Ada Gene...", "RTX-6000-Ada"),  # nvidia-smi cuts long names
        ("NVIDIA H200", "H200"),  # NVML names the NVL card apart
        ("P4000", "Quadro-P4000"),
        ("1x A100 SXM4 40GB", "A100-40GB"),  # Verda's description: a count is not a name
        ("RTXPRO6000-WK", "RTX-PRO-6000-WS"),
        ("A100-80G-PCIe", "A100-80GB-PCIe"),
        ("H100-80G-SXM5", "H100-SXM"),
        ("H100_PCIE_BAREMETAL", "H100-PCIe"),
        ("A6000_PCIE_LOW_RAM", "RTX-A6000"),
        ("Q RTX 6000", "Quadro-RTX-6000"),
        ("A6000", "RTX-A6000"),
        ("4090", "RTX-4090"),
        ("H100SXM5", "H100-SXM"),
    ],
)
def test_spellings_resolve_with_no_other_fact(spelling: str, expected: str) -> None:
    assert canonical_gpu(spelling) == expected


@pytest.mark.parametrize(
    ("raw", "facts", "expected"),
    [
        # memory type: "a plain H100 whose details say HBM3 is not ambiguous"
        ("H100", {"memory_gb": 80.0, "memory_type": "HBM3"}, "H100-SXM"),
        ("H100", {"memory_gb": 80.0, "memory_type": "HBM2e"}, "H100-PCIe"),
        ("H100", {"memory_gb": 94.0}, "H100-NVL"),
        # instance families the clouds document
        ("A100", {"provider": "aws", "instance_type": "p4de.24xlarge", "memory_gb": 80.0}, "A100-80GB"),
        ("A100", {"provider": "aws", "instance_type": "p4d.24xlarge"}, "A100-40GB"),
        ("A100", {"provider": "gcp", "instance_type": "a2-ultragpu-8g"}, "A100-80GB"),
        ("nvidia-a100-80gb", {"provider": "gcp", "instance_type": "a2-ultragpu-1g"}, "A100-80GB"),
        ("A100", {"provider": "gcp", "instance_type": "a2-highgpu-1g"}, "A100-40GB"),
        ("A100", {"provider": "lambda", "instance_type": "gpu_1x_a100_sxm4", "memory_gb": 40.0}, "A100-40GB"),
        ("A100", {"provider": "lambda", "instance_type": "gpu_2x_a100", "memory_gb": 40.0}, "A100-40GB-PCIe"),
        ("A100-80GB", {"provider": "azure", "instance_type": "Standard_NC24ads_A100_v4"}, "A100-80GB-PCIe"),
        ("A100-80GB", {"provider": "azure", "instance_type": "Standard_ND96amsr_A100_v4"}, "A100-80GB"),
        ("H100", {"provider": "azure", "instance_type": "Standard_NC40ads_H100_v5"}, "H100-NVL"),
        ("H100", {"provider": "oci", "instance_type": "BM.GPU.H100.8", "memory_gb": 80.0}, "H100-SXM"),
        ("A100", {"provider": "oci", "instance_type": "BM.GPU4.8", "memory_gb": 40.0}, "A100-40GB"),
        ("H100", {"provider": "nebius", "instance_type": "gpu-h100-sxm_8gpu-128vcpu-1600gb"}, "H100-SXM"),
        ("A800", {"provider": "cudo", "instance_type": "intel-ice-lake-a800-pci_1x2v4gb"}, "A800-80GB-PCIe"),
        # a reseller's instance names the cloud that runs it
        ("H100", {"provider": "shadeform", "instance_type": "hyperstack_H100x4", "memory_gb": 80.0}, "H100-PCIe"),
        ("A100-80GB", {"provider": "shadeform", "instance_type": "verda_A100-80GBx2", "memory_gb": 80}, "A100-80GB"),
        ("Tesla PG500-216", {"memory_gb": 32.0}, "V100-32GB-PCIe"),  # NVML name of an OEM V100 PCIe board
        ("RTX6000", {"provider": "lambda", "instance_type": "gpu_1x_rtx6000", "memory_gb": 24.0}, "Quadro-RTX-6000"),
        ("RTX6000", {"provider": "seeweb", "instance_type": "ECS1GPU", "memory_gb": 48.0}, "RTX-6000-Ada"),
        ("RTXPRO6000", {"provider": "oci", "instance_type": "BM.GPU.RTXPRO.8", "memory_gb": 96.0}, "RTX-PRO-6000"),
        ("NCads A100 v4", {"provider": "azure", "instance_type": "Standard_NC24ads_A100_v4"}, "A100-80GB-PCIe"),
        ("A100-80GB", {"provider": "primeintellect", "instance_type": "x__1", "form_factor": "PCIe"}, "A100-80GB-PCIe"),
        # documented provider naming
        ("H100", {"provider": "runpod", "instance_type": "1x_H100_SECURE", "memory_gb": 80.0}, "H100-PCIe"),
        ("H100", {"provider": "lium", "instance_type": "H100_1x", "memory_gb": 80.0}, "H100-PCIe"),
        # JarvisLabs prices "NVIDIA H100 SXM" and "NVIDIA H200 SXM" only (jarvislabs.ai/pricing); v8 catalog rows
        ("H100", {"provider": "jarvislabs", "instance_type": "1x_H100_24V_200G", "memory_gb": 80.0}, "H100-SXM"),
        ("H200", {"provider": "jarvislabs", "instance_type": "8x_H200_224V_2400G", "memory_gb": 141.0}, "H200"),
        ("H100", {"provider": "jarvislabs", "memory_gb": 80.0}, "H100-SXM"),  # its API's server_meta gpu_type
        # SkyPilot's v8 RunPod rows: 'RTX PRO 6000' beside 'RTX PRO 6000 WK' is RunPod's Server Edition id
        (
            "RTX PRO 6000",
            {"provider": "runpod", "instance_type": "4x_RTXPRO6000_SECURE", "memory_gb": 96.0},
            "RTX-PRO-6000",
        ),
        ("RTX PRO 6000 WK", {"provider": "runpod", "instance_type": "1x_RTXPRO6000-WK_SECURE"}, "RTX-PRO-6000-WS"),
        # vendor; a family named without its letter
        ("MI300X", {"vendor": "AMD", "memory_gb": 192.0}, "MI300X"),
        ("MI300", {"memory_gb": 192.0}, "MI300X"),
        # a bare id is the family's standard part; the other needs a memory fact
        ("RTX4090", {"provider": "vast", "instance_type": "1x-RTX_4090-32-65536"}, "RTX-4090"),
        ("RTX4090", {"provider": "vast", "instance_type": "1x-RTX_4090-32-65536", "memory_gb": 47.9}, "RTX-4090-48GB"),
    ],
)
def test_every_fact_a_row_carries_is_used(raw: str, facts: dict[str, object], expected: str) -> None:
    assert canonical_gpu(raw, **facts) == expected


@pytest.mark.parametrize(
    ("raw", "facts"),
    [
        ("H100", {"memory_gb": 80.0}),  # SXM5 or PCIe
        ("A100", {}),
        ("V100", {"provider": "lambda", "instance_type": "gpu_8x_v100", "memory_gb": 16.0}),  # Lambda says neither
        ("H200", {"provider": "lium", "instance_type": "H200_1x", "memory_gb": 140.0}),  # Lium maps H200 NVL here
        ("H200", {"provider": "daytona", "instance_type": "1x-H200", "memory_gb": 141.0}),  # SXM or NVL
        ("RTXPRO6000", {"provider": "daytona", "instance_type": "1x-RTXPRO6000", "memory_gb": 96.0}),  # edition?
        ("RTX PRO 6000", {"provider": "runpod", "memory_gb": 96.0}),  # RunPod's bare displayName meant both editions
        ("RTXPRO6000", {"provider": "jarvislabs", "instance_type": "1x_RTXPRO6000_28V_160G", "memory_gb": 96.0}),
        ("RTX 6000", {}),  # the Quadro RTX 6000 or the RTX 6000 Ada
        ("AMD Instinct MI250X/MI250", {}),  # ROCm's one name for two GPUs
        ("AMD-Instinct-MI250X-MI250", {"provider": "ray"}),  # Ray's label for it
        ("H100_NVL", {"provider": "spheron", "instance_type": "n3-H100x8-NVLink", "memory_gb": 80.0}),  # name vs row
        ("RTX 4060 Ti", {}),  # 8 or 16 GB
    ],
)
def test_ambiguous_rows_are_reported_with_their_candidates(raw: str, facts: dict[str, object]) -> None:
    with pytest.raises(UnknownGpu) as err:
        canonical_gpu(raw, **facts)
    assert err.value.reason == "ambiguous_gpu_variant"
    assert len(err.value.candidates) >= 2 and list(err.value.candidates) == sorted(err.value.candidates)


@pytest.mark.parametrize(
    ("raw", "facts"),
    [
        ("RTX4090", {"memory_gb": 96.0}),  # no 96 GB RTX 4090: a figure that contradicts every variant
        ("H100 SXM", {"memory_gb": 160.0}),  # a two-GPU total read as per GPU: reported, never snapped
        ("A100 60GB", {}),  # the name's own size fits no A100
        ("V100 PCIe", {"provider": "x", "instance_type": "gpu-v100-sxm2"}),  # the instance contradicts the name
    ],
)
def test_facts_that_contradict_every_variant_are_unknown(raw: str, facts: dict[str, object]) -> None:
    with pytest.raises(UnknownGpu) as err:
        canonical_gpu(raw, **facts)
    assert err.value.reason == "unknown_gpu"


@pytest.mark.parametrize(
    "name",
    [
        "tpu-v5litepod-8",
        "tpu-v6e-1",
        "v5litepod-4",
        "Inferentia2",
        "Trainium2",
        "Gaudi HL-205",
        "Qualcomm AI 100",
        "Xilinx VU9P",
        "Ascend910B",
        "n300",
    ],
)
def test_accelerators_that_are_not_gpus(name: str) -> None:
    with pytest.raises(UnknownGpu) as err:
        canonical_gpu(name, provider="aws", instance_type="x")
    assert err.value.reason == "not_a_gpu"
    assert parse_name(name).not_a_gpu


@pytest.mark.parametrize(
    ("text", "models"),
    [
        # a board-unstated model is among them when every board it may be is (docs/decisions.md,
        # "Board-unstated GPU models"); a spelling that names one board leaves it out
        ("H100", ("H100-80GB-Any", "H100-NVL", "H100-PCIe", "H100-SXM")),
        ("A100", ("A100-40GB", "A100-40GB-Any", "A100-40GB-PCIe", "A100-80GB", "A100-80GB-Any", "A100-80GB-PCIe")),
        ("A100 80GB", ("A100-80GB", "A100-80GB-Any", "A100-80GB-PCIe")),
        ("H100-80GB-Any", ("H100-80GB-Any",)),
        ("a100 pcie", ("A100-40GB-PCIe", "A100-80GB-PCIe")),
        ("H100 SXM", ("H100-SXM",)),
        ("h100-sxm", ("H100-SXM",)),  # a canonical id in any case is itself
        ("A100-80GB", ("A100-80GB",)),  # ... even where the words alone would name two cards
        ("rtx 6000 ada", ("RTX-6000-Ada",)),
        ("NVIDIA GeForce RTX 4090", ("RTX-4090", "RTX-4090-48GB")),
    ],
)
def test_a_users_spelling_denotes_every_variant_it_fits(text: str, models: tuple[str, ...]) -> None:
    assert gpu_models_for(text) == models


@pytest.mark.parametrize(
    ("text", "reason"), [("Voodoo5", "unknown_gpu"), ("TPU v5e", "not_a_gpu"), ("", "unknown_gpu")]
)
def test_a_users_spelling_of_nothing_is_refused(text: str, reason: str) -> None:
    with pytest.raises(UnknownGpu) as err:
        gpu_models_for(text)
    assert err.value.reason == reason


def test_instance_facts() -> None:
    assert instance_facts("lambda", "gpu_8x_a100_80gb_sxm4").form == SXM
    assert instance_facts("lambda", "gpu_8x_a100_80gb_sxm4").memory_gb == 80.0
    assert instance_facts("fluidstack", "A100_PCIE_80GB::1").form == PCIE
    assert instance_facts("vast", "1x-H100_NVL-32-65536").form == NVL
    assert instance_facts("fluidstack", "H100_NVLINK_80GB::8").form is None  # NVLink is an interconnect
    assert instance_facts("verda", "1H200.141S.44V").memory_gb == 141.0
    assert instance_facts("shadeform", "hyperstack_H100x4").host == "hyperstack"
    assert instance_facts("primeintellect", "datacrunch__8xH100_80GB__176__1480").host == "verda"


@settings(max_examples=300, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    provider=st.sampled_from(["", "runpod", "vast", "lambda", "aws", "shadeform", "lium", "verda", "primeintellect"]),
    instance=st.text(st.characters(codec="ascii", categories=["L", "N"]), max_size=24),
)
def test_an_offers_own_name_resolves_back_to_its_model_anywhere(model: str, provider: str, instance: str) -> None:
    """``offers.to_raw`` names a model by ``descriptive_name``: that spelling is the model from any provider and any
    instance type that does not contradict it (the idempotence of normalisation rests on this)."""
    try:
        got = canonical_gpu(descriptive_name(model), provider=provider, instance_type=instance)
    except UnknownGpu as err:  # only an instance type naming another form factor may contradict it
        assert err.reason == "unknown_gpu" and instance_facts(provider, instance).form is not None
        return
    assert got == model


@given(st.sampled_from(MODELS))
def test_canonical_ids_and_their_user_spellings_are_fixed_points(model: str) -> None:
    assert canonical_gpu(model) == model
    assert gpu_models_for(model) == (model,)
    assert gpu_models_for(model.lower()) == (model,)
