"""Each provider quirk of the real SkyPilot catalogs (../shared/data/catalogs), one test each."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gpubroker.adapters.skypilot_catalog import SkyPilotCatalogSource, parse_row
from gpubroker.domain.errors import SourceError
from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.offers import Offer, RawOffer, RejectedRow, gpu_model_of, normalise
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
    # Paperspace names no form factor for its V100s (SXM2 and PCIe differ in specs): never one board guessed; the
    # offers are the board-unstated models, with the lower board's figures
    v100s = {x.gpu_model for x in offers("paperspace") if x.gpu_model.startswith("V100")}
    assert v100s and v100s <= {"V100-16GB-Any", "V100-32GB-Any"}


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


# ---- issue 10: any cloud's v8 catalog ----------------------------------------------------------------------------

V8 = Path(__file__).resolve().parents[1] / "fixtures" / "skypilot_v8"
HEADER = "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region,GpuInfo,SpotPrice\n"


def _file(tmp_path: Path, *rows: str) -> str:
    path = tmp_path / "vms.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_a_null_in_gpuinfo_does_not_drop_the_row() -> None:
    # Hyperstack writes JSON null inside a Python literal ('Manufacturer': null): every GPU row was malformed_row
    rows = list(SkyPilotCatalogSource("hyperstack", str(V8 / "hyperstack" / "vms.csv")).rows())
    assert len(rows) == 25 and all(isinstance(r, RawOffer) for r in rows)
    assert all(r.gpu_memory_gb for r in rows if isinstance(r, RawOffer))
    assert {gpu_model_of(r) for r in rows if isinstance(r, RawOffer)} >= {
        "A100-80GB-PCIe",
        "H100-PCIe",
        "H100-SXM",
    }


@pytest.mark.parametrize(
    "gpu_info",
    [
        "{'Gpus': [{'Name': 'L40S', 'Manufacturer': 'NVIDIA', 'Count': 1, 'MemoryInfo': None}]}",
        "{'Gpus': [{'Name': 'L40S', 'Count': '1.0', 'MemoryInfo': {'SizeInMiB': 49152}}]}",  # no Manufacturer
        "{'Gpus': [{'Name': 'L40S', 'Manufacturer': null, 'MemoryInfo': {'SizeInMiB': nan}}]}",
        "{'Gpus': None, 'TotalGpuMemoryInMiB': None}",
        "{'Gpus': [{'Name': 'L40S'",  # cut off
        "L40S",  # a bare name
    ],
)
def test_a_gpuinfo_with_missing_or_null_fields_keeps_the_row(gpu_info: str) -> None:
    row = {"InstanceType": "x1", "AcceleratorName": "L40S", "AcceleratorCount": "1", "Price": "1.0", "Region": "r"}
    raw = parse_row("newcloud", {**row, "GpuInfo": gpu_info})
    assert gpu_model_of(raw) == "L40S"


def test_a_row_without_a_region_is_kept_under_a_placeholder(tmp_path: Path) -> None:
    src = SkyPilotCatalogSource("newcloud", _file(tmp_path, 'a1,A10,1,8,32,1.0,,"",'))
    (raw,) = src.rows()
    assert isinstance(raw, RawOffer) and raw.region == "unspecified"
    kept = normalise(raw.model_copy(update={"provider": "lambda"}), as_of=NOW, specs=SPECS)
    assert (kept.region, kept.gpu_model) == ("unspecified", "A10")


def test_the_zones_of_one_region_are_one_offer_at_their_lowest_prices() -> None:
    path = str(V8 / "oci" / "gpu_rows.csv")
    parsed = [r for r in SkyPilotCatalogSource("oci", path).parsed() if isinstance(r, RawOffer)]
    merged = [r for r in SkyPilotCatalogSource("oci", path).rows() if isinstance(r, RawOffer)]
    phoenix = [r for r in parsed if r.region == "us-phoenix-1" and r.instance_type == "BM.GPU.H100.8"]
    assert len(phoenix) >= 2  # availability domains of one region: same shape, same region
    keys = [(r.instance_type, r.region) for r in merged]
    assert len(keys) == len(set(keys))  # no "duplicate" left for ingestion to count
    (one,) = [r for r in merged if r.region == "us-phoenix-1" and r.instance_type == "BM.GPU.H100.8"]
    assert one.price_per_hour == min(r.price_per_hour or 0 for r in phoenix)


def test_zones_with_different_spot_prices_merge_at_the_lowest(tmp_path: Path) -> None:
    info = "\"{'Gpus': [{'Name': 'A10G', 'MemoryInfo': {'SizeInMiB': 22888}}]}\""
    rows = list(
        SkyPilotCatalogSource(
            "aws",
            _file(
                tmp_path,
                f"g5.xlarge,A10G,1,4,16,1.006,us-east-1,{info},0.40",
                f"g5.xlarge,A10G,1,4,16,1.006,us-east-1,{info},0.31",
            ),
        ).rows()
    )
    assert len(rows) == 1 and isinstance(rows[0], RawOffer) and rows[0].spot_price_per_hour == 0.31


def test_each_file_states_its_own_memory_convention() -> None:
    # Verda's two v8 versions: 538675a writes the total of all GPUs in SizeInMiB, 000c1d0 the per-GPU figure
    old = SkyPilotCatalogSource("verda", str(CATALOGS / "verda" / "vms.csv"))
    new = SkyPilotCatalogSource("verda", str(V8 / "verda-000c1d0" / "vms.csv"))
    for src in (old, new):
        rows = [r for r in src.parsed() if isinstance(r, RawOffer) and r.gpu_name and "B200" in r.gpu_name]
        assert rows and {round(r.gpu_memory_gb or 0) for r in rows} == {180}, src.location


def test_a_doubled_memory_figure_is_reported_not_hidden(tmp_path: Path) -> None:
    """A cloud that writes the total in SizeInMiB for its only (2-GPU) row: the file shows no convention, the cloud's
    declared one (per GPU) reads 160 GB per H100. No plausibility window lets that through as a real 160 GB card."""
    info = "\"{'Gpus': [{'Name': 'H100', 'MemoryInfo': {'SizeInMiB': 163840}}]}\""
    (raw,) = SkyPilotCatalogSource(
        "newcloud", _file(tmp_path, f"gpu-h100-sxm_2gpu,H100,2,32,400,6.0,r1,{info},")
    ).rows()
    assert isinstance(raw, RawOffer)
    with pytest.raises(RejectedRow) as err:
        gpu_model_of(raw)
    assert err.value.reason == "unknown_gpu"


def test_runpod_v8_memory_column_is_host_ram() -> None:
    rows = [r for r in SkyPilotCatalogSource("runpod", str(V8 / "runpod" / "gpu_rows.csv")).parsed()]
    a100 = next(r for r in rows if isinstance(r, RawOffer) and r.instance_type == "1x_A100-80GB_SECURE")
    assert (a100.gpu_memory_gb, a100.ram_gb, a100.gpu_form_factor) == (80.0, 117.0, "PCIE")


def test_vast_names_the_gpu_in_its_instance_type(tmp_path: Path) -> None:
    # SkyPilot's Vast fetcher strips "Ti" from AcceleratorName; the instance type keeps Vast's gpu_name
    raw = parse_row(
        "vast",
        {
            "InstanceType": "1x-RTX_3080_Ti-16-32768",
            "AcceleratorName": "RTX3080",
            "AcceleratorCount": "1",
            "Price": "0.2",
            "Region": "Texas, US, NA",
            "GpuInfo": "",
        },
    )
    assert normalise(raw, as_of=NOW, specs=SPECS).gpu_model == "RTX-3080-Ti"


def test_gcp_prices_gpus_in_rows_without_a_machine_type() -> None:
    rows = SkyPilotCatalogSource("gcp", str(V8 / "gcp" / "gpu_rows.csv")).parsed()
    gpus = [r for r in rows if isinstance(r, RawOffer) and r.gpu_name == "A100" and r.instance_type == "A100:1"]
    assert gpus and all(r.gpu_memory_gb == 40.0 for r in gpus)


def test_a_fractional_gpu_is_named_but_not_an_offer() -> None:
    rows = SkyPilotCatalogSource("aws", str(V8 / "aws" / "gpu_rows.csv")).parsed()
    quarter = next(r for r in rows if isinstance(r, RawOffer) and r.instance_type == "g6f.2xlarge")
    assert quarter.gpu_memory_gb == pytest.approx(22.35, abs=0.01)  # 5722 MiB is a quarter of an L4
    with pytest.raises(RejectedRow) as err:
        normalise(quarter, as_of=NOW, specs=SPECS)
    assert err.value.reason == "invalid_gpu_count"  # the L4 resolves; a quarter GPU is not an offer
