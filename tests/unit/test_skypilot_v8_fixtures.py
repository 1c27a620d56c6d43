"""The SkyPilot v8 catalog fixtures are intact: each parses, has its cloud's header, and matches PROVENANCE.md."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "skypilot_v8"
_BASE = "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB"

# Column order differs per cloud; the extra columns are the point of several fixtures.
HEADERS = {
    "aws/gpu_rows.csv": f"{_BASE},GpuInfo,Price,SpotPrice,Region,AvailabilityZone,Arch",
    "cudo/vms.csv": f"{_BASE},Price,Region,GpuInfo,SpotPrice",
    "daytona/vms.csv": f"{_BASE},Price,SpotPrice,Region,GpuInfo",
    "gcp/gpu_rows.csv": (
        "InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice"
    ),
    "hyperbolic/vms.csv": f"{_BASE},StorageGiB,Price,Region,GpuInfo,SpotPrice",
    "hyperstack/vms.csv": f"{_BASE},GpuInfo,Price,Region,SpotPrice",
    "jarvislabs/vms.csv": f"{_BASE},GpuInfo,Region,SpotPrice,Price",
    "lium/vms.csv": f"{_BASE},Price,Region,GpuInfo,SpotPrice",
    "mithril/vms.csv": f"{_BASE},Price,SpotPrice,Region,GpuInfo",
    "nebius/vms.csv": f"{_BASE},Price,Region,GpuInfo,SpotPrice",
    "oci/gpu_rows.csv": f"{_BASE},GpuInfo,Price,SpotPrice,Region,AvailabilityZone",
    "primeintellect/vms.csv": (
        "InstanceType,UpstreamCloudId,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,"
        "AvailabilityZone,Price,SpotPrice"
    ),
    "runpod/gpu_rows.csv": f"{_BASE},Region,SpotPrice,Price,AvailabilityZone,GpuInfo",
    "seeweb/vms.csv": f"{_BASE},Price,Region,GpuInfo,SpotPrice",
    "spheron/vms.csv": f"{_BASE},Price,Region,GpuInfo,SpotPrice,Provider,OperatingSystem,SpheronInstanceType",
    "verda-000c1d0/vms.csv": (
        "InstanceType,UpstreamCloudId,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,Price,SpotPrice"
    ),
    "yotta/vms.csv": f"{_BASE},GpuInfo,Region,SpotPrice,Price",
}


def _provenance() -> dict[str, dict[str, str]]:
    """PROVENANCE.md table rows keyed by fixture path (the cell reads `path` ← `source`)."""
    lines = [ln for ln in (FIXTURES / "PROVENANCE.md").read_text(encoding="utf-8").splitlines() if ln.startswith("|")]
    names = [c.strip() for c in lines[0].strip("|").split("|")]
    out = {}
    for ln in lines[2:]:
        row = dict(zip(names, (c.strip() for c in ln.strip("|").split("|")), strict=False))
        out[row["path"].split("`")[1]] = row
    return out


PROVENANCE = _provenance()


def test_every_fixture_file_is_in_provenance_and_has_a_known_header() -> None:
    files = {p.relative_to(FIXTURES).as_posix() for p in FIXTURES.glob("*/*.csv")}
    assert files == set(PROVENANCE) == set(HEADERS)


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_fixture_parses_and_matches_its_provenance(name: str) -> None:
    meta = PROVENANCE[name]
    text = (FIXTURES / name).read_bytes().decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert ",".join(rows[0]) == HEADERS[name]
    assert all(len(r) == len(rows[0]) for r in rows[1:])
    assert len(rows) - 1 == int(meta["rows"])
    col = rows[0].index("AcceleratorName")
    assert sum(1 for r in rows[1:] if r[col].strip()) == int(meta["GPU rows"])
    assert ("\r\n" in text) == (meta["line ends"] == "CRLF")
    if not meta["notes"].startswith("EXTRACT"):
        assert len(text) == int(meta["total_chars"])  # a full copy is byte-exact (ASCII/UTF-8 chars)
