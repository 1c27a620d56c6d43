"""Each provider quirk of the real SkyPilot catalogs (../shared/data/catalogs), one test each."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gpubroker.adapters.skypilot_catalog import SkyPilotCatalogSource, parse_row
from gpubroker.domain.errors import SourceError
from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.offers import Offer, RawOffer, RejectedRow, normalise
from tests.conftest import CATALOGS

SPECS = bundled_catalog().by_model()
NOW = datetime(2026, 11, 26, tzinfo=UTC)
PROVIDERS = sorted(p.name for p in CATALOGS.iterdir() if (p / "vms.csv").exists())


def offers(provider: str) -> list[Offer]:
    out = []
    for row in SkyPilotCatalogSource(provider, str(CATALOGS / provider / "vms.csv")).rows():
        if isinstance(row, RawOffer):
            try:
                out.append(normalise(row, as_of=NOW, specs=SPECS))
            except RejectedRow:
                pass
    return out


def find(provider: str, instance: str, region: str | None = None) -> Offer:
    return next(o for o in offers(provider) if o.instance_type == instance and (region is None or o.region == region))


def test_all_seven_catalogs_present() -> None:
    assert PROVIDERS == ["fluidstack", "lambda", "paperspace", "runpod", "shadeform", "vast", "verda"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_row_is_accepted_or_counted(provider: str) -> None:
    path = CATALOGS / provider / "vms.csv"
    data_rows = sum(1 for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip())
    seen = list(SkyPilotCatalogSource(provider, str(path)).rows())
    assert len(seen) == data_rows


def test_verda_total_memory_in_name_and_total_size() -> None:
    o = find("verda", "4A100.88V")
    assert (o.gpu_model, o.gpu_count, o.gpu_memory_gb) == ("A100-80GB", 4, 80.0)


def test_lambda_total_field_is_per_gpu() -> None:
    o = (
        find("lambda", "gpu_8x_h100_sxm5", "us-east-1")
        if any(x.instance_type == "gpu_8x_h100_sxm5" and x.region == "us-east-1" for x in offers("lambda"))
        else find("lambda", "gpu_8x_h100_sxm5")
    )
    assert (o.gpu_model, o.gpu_count, o.gpu_memory_gb) == ("H100-SXM", 8, 80.0)


def test_shadeform_size_in_mib_holds_gigabytes() -> None:
    o = find("shadeform", "imwt_A6000x8")
    assert (o.gpu_model, o.gpu_count, o.gpu_memory_gb) == ("RTX-A6000", 8, 48.0)


def test_vast_measured_memory_is_total_and_kept_when_real() -> None:
    two = find("vast", "2x-RTX_4090-32-65536", "France, FR, EU")
    assert two.gpu_memory_gb == 24.0  # 49128 MiB over two GPUs, snapped to the spec
    modded = find("vast", "1x-RTX_4090-32-65536", "Hong Kong, HK, AS")
    # a 48 GB card is what the host has: the board-modified RTX 4090 48GB, never the 24 GB card with 48 GB
    assert modded.gpu_model == "RTX-4090-48GB" and modded.gpu_memory_gb == 48.0


def test_runpod_memory_column_is_gpu_memory_not_host_ram() -> None:
    o = find("runpod", "8x_A100-80GB_SECURE", "CA")
    assert o.gpu_memory_gb == 80.0 and o.ram_gb is None
    assert "secure-cloud" in o.compliance


def test_paperspace_plain_names_use_spec_memory() -> None:
    o = find("paperspace", "P4000")
    assert (o.gpu_model, o.gpu_memory_gb, o.ram_gb) == ("Quadro-P4000", 8.0, 32.0)
    # Paperspace names no form factor for its V100s (SXM2 and PCIe differ in specs): reported, not guessed
    assert not [x for x in offers("paperspace") if x.gpu_model.startswith("V100")]


def test_spot_zero_means_none_and_crlf_files_parse() -> None:
    assert b"\r\n" in (CATALOGS / "vast" / "vms.csv").read_bytes()
    assert all(o.spot_price_per_hour is None for o in offers("vast"))
    verda = find("verda", "1B300.30V")
    assert verda.spot_price_per_hour == 1.24


def test_cpu_rows_are_counted_as_no_gpu() -> None:
    row = {
        "InstanceType": "cpu_4x_general",
        "AcceleratorName": "",
        "AcceleratorCount": "",
        "Price": "0.2",
        "Region": "us-east-1",
        "vCPUs": "4",
        "MemoryGiB": "16",
        "GpuInfo": "",
        "SpotPrice": "",
    }
    with pytest.raises(RejectedRow) as err:
        normalise(parse_row("lambda", row), as_of=NOW, specs=SPECS)
    assert err.value.reason == "no_gpu"


def test_malformed_number_is_a_counted_rejection() -> None:
    row = {
        "InstanceType": "x",
        "AcceleratorName": "A10",
        "AcceleratorCount": "one",
        "Price": "1",
        "Region": "r",
    }
    with pytest.raises(RejectedRow) as err:
        parse_row("lambda", row)
    assert err.value.reason == "malformed_row"


def test_gpu_mix_across_real_catalogs() -> None:
    models = Counter(o.gpu_model for p in PROVIDERS for o in offers(p))
    assert models["H100-SXM"] > 0 and models["H100-PCIe"] > 0 and models["H100-NVL"] > 0
    assert models["RTX-A6000"] > 0


def test_missing_file_and_unsupported_scheme_are_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError):
        list(SkyPilotCatalogSource("vast", str(tmp_path / "nope.csv")).rows())
    with pytest.raises(SourceError):
        list(SkyPilotCatalogSource("vast", "ftp://example.invalid/vms.csv").rows())
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(SourceError):
        list(SkyPilotCatalogSource("vast", str(bad)).rows())
