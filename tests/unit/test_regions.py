"""Region strings -> continent/country -> the groups a search accepts (``region=eu``): every region in the real
catalogs is placed, and the cloud naming schemes are read right."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gpubroker.domain.regions import (
    CONTINENTS,
    GROUP_ALIASES,
    REGION_GROUPS,
    group_named,
    region_groups,
    region_place,
    region_predicate,
)

CATALOGS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "catalogs"


def _catalog_regions() -> set[str]:
    regions: set[str] = set()
    for path in sorted(CATALOGS.glob("*/vms.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            regions |= {row["Region"] for row in csv.DictReader(fh) if row.get("Region")}
    return regions


@pytest.mark.skipif(not CATALOGS.exists(), reason="needs ../shared/data")
def test_every_region_of_the_real_catalogs_has_a_continent() -> None:
    regions = _catalog_regions()
    assert len(regions) > 100
    unplaced = sorted(r for r in regions if region_place(r).continent is None)
    assert unplaced == []


@pytest.mark.parametrize(
    ("region", "continent", "country"),
    [
        # Vast: place, ISO country, continent; the country decides ("Georgia" here is the US state)
        ("Bavaria, DE, EU", "europe", "DE"),
        ("Georgia, US, NA", "north-america", "US"),
        ("St.-Petersburg, RU, EU", "europe", "RU"),
        (", CN, AS", "asia", "CN"),
        ("Hafnarfjarðarkaupstaður, IS, EU", "europe", "IS"),
        ("Somewhere, ZZ, OC", "oceania", "ZZ"),  # unknown country: Vast's continent code
        # RunPod: two-letter country codes
        ("CZ", "europe", "CZ"),
        ("US", "north-america", "US"),
        ("CA", "north-america", "CA"),
        # Shadeform, Fluidstack, Verda, Paperspace
        ("frankfurt-germany-5", "europe", "DE"),
        ("montreal-canada-2", "north-america", "CA"),
        ("jerusalem-israel-1", "middle-east", "IL"),
        ("NORTH_DAKOTA_USA", "north-america", "US"),
        ("FIN-01", "europe", "FI"),
        ("ICE-01", "europe", "IS"),
        ("East Coast (NY2)", "north-america", "US"),
        # Lambda: a continent, no country
        ("europe-central-1", "europe", None),
        ("asia-northeast-1", "asia", None),
        ("me-west-1", "middle-east", None),
        ("australia-east-1", "oceania", "AU"),
        # AWS
        ("us-east-1", "north-america", "US"),
        ("us-gov-west-1", "north-america", "US"),
        ("eu-central-1", "europe", "DE"),
        ("eu-west-2", "europe", "GB"),
        ("ap-southeast-2", "oceania", "AU"),
        ("ap-northeast-1", "asia", "JP"),
        ("sa-east-1", "south-america", "BR"),
        ("ca-central-1", "north-america", "CA"),
        ("me-central-1", "middle-east", "AE"),
        ("il-central-1", "middle-east", "IL"),
        ("af-south-1", "africa", "ZA"),
        ("eu-west-9", "europe", None),  # a region we do not list: the prefix still names the continent
        # GCP
        ("europe-west4", "europe", "NL"),
        ("us-central1", "north-america", "US"),
        ("asia-southeast1", "asia", "SG"),
        ("northamerica-northeast1", "north-america", "CA"),
        ("southamerica-east1", "south-america", "BR"),
        ("australia-southeast1", "oceania", "AU"),
        ("me-west1", "middle-east", "IL"),
        ("africa-south1", "africa", "ZA"),
        # Azure
        ("eastus", "north-america", "US"),
        ("westeurope", "europe", "NL"),
        ("germanywestcentral", "europe", "DE"),
        ("japaneast", "asia", "JP"),
        ("southafricanorth", "africa", "ZA"),
        ("uaenorth", "middle-east", "AE"),
        ("brazilsouth", "south-america", "BR"),
        # OCI
        ("eu-frankfurt-1", "europe", "DE"),
        ("uk-london-1", "europe", "GB"),
        ("ap-tokyo-1", "asia", "JP"),
        ("sa-saopaulo-1", "south-america", "BR"),
        ("mx-queretaro-1", "north-america", "MX"),
        ("me-dubai-1", "middle-east", "AE"),
    ],
)
def test_region_place(region: str, continent: str, country: str | None) -> None:
    place = region_place(region)
    assert (place.continent, place.country) == (continent, country)


@pytest.mark.parametrize("region", ["", "local", "zone-7", "XX", "georgia", "us-ca-1"])
def test_unknown_or_contradicting_regions_belong_to_no_group(region: str) -> None:
    assert region_groups(region) == ()


def test_groups_and_aliases() -> None:
    assert all(set(g.continents) <= set(CONTINENTS) for g in REGION_GROUPS.values())
    assert all(target in REGION_GROUPS for target in GROUP_ALIASES.values())
    assert group_named("Europe") is REGION_GROUPS["eu"]
    assert group_named("north_america") is REGION_GROUPS["na"]
    assert group_named("AU") is REGION_GROUPS["oceania"]
    assert group_named("us-east-1") is None
    assert region_groups("London-uk-1") == ("emea", "eu")  # geographic Europe, not the EU
    assert region_groups("us-east-1") == ("americas", "na", "us")
    assert region_groups("CA") == ("americas", "na")


def test_region_predicate_exact_names_and_groups() -> None:
    eu = region_predicate(["eu"])
    assert eu("Germany, DE, EU") and eu("frankfurt-germany-5") and eu("FIN-01") and eu("NL")
    assert not eu("us-east-1") and not eu("somewhere")
    exact = region_predicate(["US-EAST-1"])
    assert exact("us-east-1") and not exact("us-east-2")
    both = region_predicate(["us", "FIN-01"])
    assert both("US") and both("Utah, US, NA") and both("fin-01") and not both("FIN-02")
