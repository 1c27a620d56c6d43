"""Where a provider's region string is, and the region groups a search accepts (``region=eu``, ``us``, ``asia``).

Providers name regions in their own ways: Vast ``"Bavaria, DE, EU"`` (place, ISO country, continent), RunPod two
letter country codes (``"CZ"``), Shadeform ``"frankfurt-germany-5"``, Lambda ``"europe-central-1"``, Verda
``"FIN-01"``, Fluidstack ``"NORTH_DAKOTA_USA"``, Paperspace ``"East Coast (NY2)"``, the clouds ``"us-east-1"``
(AWS), ``"europe-west4"`` (GCP), ``"eastus"`` (Azure), ``"eu-frankfurt-1"`` (OCI). :func:`region_place` reads each
into a continent and, where the string says it, a country. A string it cannot place has no continent and belongs
to no group (it is still found by its exact name): never a guess.

Groups are continents (``eu`` is geographic Europe, the UK, Switzerland and Norway included; the legal EU/EEA is the
``eu-data-residency`` compliance tag), one country (``us``) and a few unions (``apac``, ``emea``, ``americas``).
Pure: no I/O, no NumPy; every function is cached by its string argument.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

NORTH_AMERICA = "north-america"
SOUTH_AMERICA = "south-america"
EUROPE = "europe"
MIDDLE_EAST = "middle-east"
AFRICA = "africa"
ASIA = "asia"
OCEANIA = "oceania"
CONTINENTS = (NORTH_AMERICA, SOUTH_AMERICA, EUROPE, MIDDLE_EAST, AFRICA, ASIA, OCEANIA)


@dataclass(frozen=True)
class RegionPlace:
    continent: str | None
    country: str | None  # ISO 3166-1 alpha-2, when the region string names or implies one


@dataclass(frozen=True)
class RegionGroup:
    """A name a search accepts for many regions: every region in one of ``continents`` or ``countries``."""

    name: str
    description: str
    continents: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()

    def holds(self, place: RegionPlace) -> bool:
        return place.continent in self.continents or place.country in self.countries


def _group(name: str, description: str, continents: Iterable[str] = (), countries: Iterable[str] = ()) -> RegionGroup:
    return RegionGroup(name, description, frozenset(continents), frozenset(countries))


REGION_GROUPS: dict[str, RegionGroup] = {
    g.name: g
    for g in (
        _group("us", "United States", countries=("US",)),
        _group("na", "North America (US, Canada, Mexico, Central America, Caribbean)", (NORTH_AMERICA,)),
        _group("sa", "South America", (SOUTH_AMERICA,)),
        _group("eu", "Europe (geographic: EU, EEA, UK, Switzerland, Balkans, European Russia)", (EUROPE,)),
        _group("me", "Middle East (Israel, Gulf states, ...)", (MIDDLE_EAST,)),
        _group("africa", "Africa", (AFRICA,)),
        _group("asia", "Asia (East, South, Southeast and Central Asia)", (ASIA,)),
        _group("oceania", "Oceania (Australia, New Zealand, ...)", (OCEANIA,)),
        _group("apac", "Asia-Pacific: asia and oceania", (ASIA, OCEANIA)),
        _group("emea", "Europe, Middle East and Africa", (EUROPE, MIDDLE_EAST, AFRICA)),
        _group("americas", "North and South America", (NORTH_AMERICA, SOUTH_AMERICA)),
    )
}
# other spellings people type for a group
GROUP_ALIASES: dict[str, str] = {
    "usa": "us",
    "united-states": "us",
    "north-america": "na",
    "northamerica": "na",
    "south-america": "sa",
    "southamerica": "sa",
    "latam": "sa",
    "europe": "eu",
    "middle-east": "me",
    "mideast": "me",
    "af": "africa",
    "oc": "oceania",
    "au": "oceania",
    "australia": "oceania",
    "asia-pacific": "apac",
}


def _codes(spaced: str) -> list[str]:
    return spaced.split()


# ISO 3166-1 alpha-2 -> continent, for every country a cloud or marketplace is likely to list.
_CONTINENT_OF: dict[str, str] = {
    **dict.fromkeys(
        _codes("US CA MX GT BZ SV HN NI CR PA CU DO HT JM PR BS BB TT GL BM KY"),
        NORTH_AMERICA,
    ),
    **dict.fromkeys(_codes("BR AR CL CO PE VE EC UY PY BO GY SR"), SOUTH_AMERICA),
    **dict.fromkeys(
        _codes(
            "AL AD AT BY BE BA BG HR CY CZ DK EE FO FI FR DE GI GR HU IS IE IM IT XK LV LI LT LU MT MD MC ME NL MK NO "
            "PL PT RO RU SM RS SK SI ES SE CH UA GB VA JE GG TR"
        ),
        EUROPE,
    ),
    **dict.fromkeys(_codes("AE SA QA BH KW OM IL JO LB IQ IR SY YE PS"), MIDDLE_EAST),
    **dict.fromkeys(
        _codes("ZA NG KE EG MA TN DZ GH ET TZ UG RW SN CI CM AO MU ZW ZM BW NA MZ MG LY SD"),
        AFRICA,
    ),
    **dict.fromkeys(
        _codes("AM AZ GE KZ KG TJ TM UZ CN HK MO TW JP KR MN IN PK BD LK NP BT MV MM TH VN LA KH MY SG ID PH BN TL"),
        ASIA,
    ),
    **dict.fromkeys(_codes("AU NZ PG FJ NC PF GU"), OCEANIA),
}
# Vast's trailing continent codes ("..., DE, EU"): used only when the country is not in the table above.
_VAST_CONTINENT = {
    "EU": EUROPE,
    "NA": NORTH_AMERICA,
    "SA": SOUTH_AMERICA,
    "AS": ASIA,
    "AF": AFRICA,
    "OC": OCEANIA,
    "ME": MIDDLE_EAST,
}

# Words (lower case, letters only) that name a country: country names, the spellings providers use, cities with
# data centres, US states. "georgia" is missing on purpose (the country or the US state).
_COUNTRY_WORDS: dict[str, str] = {
    # countries (and short forms seen in region strings)
    "usa": "US",
    "us": "US",
    "unitedstates": "US",
    "canada": "CA",
    "ca": "CA",
    "mexico": "MX",
    "mx": "MX",
    "brazil": "BR",
    "chile": "CL",
    "colombia": "CO",
    "argentina": "AR",
    "uk": "GB",
    "gb": "GB",
    "unitedkingdom": "GB",
    "england": "GB",
    "ireland": "IE",
    "france": "FR",
    "germany": "DE",
    "netherlands": "NL",
    "belgium": "BE",
    "luxembourg": "LU",
    "switzerland": "CH",
    "austria": "AT",
    "italy": "IT",
    "spain": "ES",
    "portugal": "PT",
    "poland": "PL",
    "czechia": "CZ",
    "czech": "CZ",
    "slovakia": "SK",
    "hungary": "HU",
    "romania": "RO",
    "bulgaria": "BG",
    "greece": "GR",
    "croatia": "HR",
    "slovenia": "SI",
    "serbia": "RS",
    "macedonia": "MK",
    "estonia": "EE",
    "latvia": "LV",
    "lithuania": "LT",
    "finland": "FI",
    "fin": "FI",  # Verda FIN-01
    "sweden": "SE",
    "norway": "NO",
    "denmark": "DK",
    "iceland": "IS",
    "ice": "IS",  # Verda ICE-01
    "ukraine": "UA",
    "russia": "RU",
    "turkey": "TR",
    "israel": "IL",
    "il": "IL",
    "uae": "AE",
    "qatar": "QA",
    "bahrain": "BH",
    "saudiarabia": "SA",
    "southafrica": "ZA",
    "kenya": "KE",
    "nigeria": "NG",
    "egypt": "EG",
    "morocco": "MA",
    "india": "IN",
    "japan": "JP",
    "korea": "KR",
    "southkorea": "KR",
    "china": "CN",
    "cn": "CN",
    "hongkong": "HK",
    "taiwan": "TW",
    "singapore": "SG",
    "malaysia": "MY",
    "indonesia": "ID",
    "thailand": "TH",
    "vietnam": "VN",
    "philippines": "PH",
    "australia": "AU",
    "newzealand": "NZ",
    # cities (and OCI / Shadeform spellings)
    "ashburn": "US",
    "phoenix": "US",
    "sanjose": "US",
    "chicago": "US",
    "newyork": "US",
    "dallas": "US",
    "houston": "US",
    "austin": "US",
    "atlanta": "US",
    "seattle": "US",
    "portland": "US",
    "losangeles": "US",
    "toronto": "CA",
    "montreal": "CA",
    "calgary": "CA",
    "vancouver": "CA",
    "queretaro": "MX",
    "monterrey": "MX",
    "saopaulo": "BR",
    "vinhedo": "BR",
    "santiago": "CL",
    "valparaiso": "CL",
    "bogota": "CO",
    "london": "GB",
    "cardiff": "GB",
    "manchester": "GB",
    "dublin": "IE",
    "paris": "FR",
    "marseille": "FR",
    "frankfurt": "DE",
    "berlin": "DE",
    "munich": "DE",
    "amsterdam": "NL",
    "brussels": "BE",
    "zurich": "CH",
    "geneva": "CH",
    "milan": "IT",
    "turin": "IT",
    "madrid": "ES",
    "warsaw": "PL",
    "stockholm": "SE",
    "skarholmen": "SE",
    "oslo": "NO",
    "kristiansand": "NO",
    "helsinki": "FI",
    "copenhagen": "DK",
    "vienna": "AT",
    "prague": "CZ",
    "jovanovac": "RS",
    "blonduos": "IS",
    "reykjavik": "IS",
    "jerusalem": "IL",
    "telaviv": "IL",
    "dubai": "AE",
    "abudhabi": "AE",
    "jeddah": "SA",
    "riyadh": "SA",
    "doha": "QA",
    "johannesburg": "ZA",
    "capetown": "ZA",
    "tokyo": "JP",
    "osaka": "JP",
    "seoul": "KR",
    "chuncheon": "KR",
    "mumbai": "IN",
    "hyderabad": "IN",
    "bangalore": "IN",
    "chennai": "IN",
    "delhi": "IN",
    "batam": "ID",
    "jakarta": "ID",
    "sydney": "AU",
    "melbourne": "AU",
    "auckland": "NZ",
    # US states (Fluidstack "ARIZONA_USA", Vast "Oregon, US, NA")
    **dict.fromkeys(
        [
            "alabama",
            "alaska",
            "arizona",
            "arkansas",
            "california",
            "colorado",
            "connecticut",
            "delaware",
            "florida",
            "hawaii",
            "idaho",
            "illinois",
            "indiana",
            "iowa",
            "kansas",
            "kentucky",
            "louisiana",
            "maine",
            "maryland",
            "massachusetts",
            "michigan",
            "minnesota",
            "mississippi",
            "missouri",
            "montana",
            "nebraska",
            "nevada",
            "newhampshire",
            "newjersey",
            "newmexico",
            "northcarolina",
            "northdakota",
            "ohio",
            "oklahoma",
            "oregon",
            "pennsylvania",
            "rhodeisland",
            "southcarolina",
            "southdakota",
            "tennessee",
            "texas",
            "utah",
            "vermont",
            "virginia",
            "washington",
            "westvirginia",
            "wisconsin",
            "wyoming",
        ],
        "US",
    ),
}
# Words that name a continent but no country: cloud prefixes (AWS/OCI "eu-", "ap-", "sa-", "me-", "af-"; GCP
# "europe-", "asia-", "southamerica-", "northamerica-"; Lambda "europe-", "asia-", "me-").
_CONTINENT_WORDS: dict[str, str] = {
    "eu": EUROPE,
    "europe": EUROPE,
    "asia": ASIA,
    "sa": SOUTH_AMERICA,
    "southamerica": SOUTH_AMERICA,
    "northamerica": NORTH_AMERICA,
    "me": MIDDLE_EAST,
    "af": AFRICA,
    "africa": AFRICA,
    "australia": OCEANIA,
    "oceania": OCEANIA,
}

# Exact names whose country the words do not tell (the cloud's published location of each region).
_EXACT: dict[str, str] = {
    # AWS
    "eu-central-1": "DE",
    "eu-central-2": "CH",
    "eu-west-1": "IE",
    "eu-west-2": "GB",
    "eu-west-3": "FR",
    "eu-south-1": "IT",
    "eu-south-2": "ES",
    "eu-north-1": "SE",
    "sa-east-1": "BR",
    "me-south-1": "BH",
    "me-central-1": "AE",
    "af-south-1": "ZA",
    "ap-east-1": "HK",
    "ap-east-2": "TW",
    "ap-south-1": "IN",
    "ap-south-2": "IN",
    "ap-northeast-1": "JP",
    "ap-northeast-2": "KR",
    "ap-northeast-3": "JP",
    "ap-southeast-1": "SG",
    "ap-southeast-2": "AU",
    "ap-southeast-3": "ID",
    "ap-southeast-4": "AU",
    "ap-southeast-5": "MY",
    "ap-southeast-6": "NZ",
    "ap-southeast-7": "TH",
    # GCP
    "europe-west1": "BE",
    "europe-west2": "GB",
    "europe-west3": "DE",
    "europe-west4": "NL",
    "europe-west6": "CH",
    "europe-west8": "IT",
    "europe-west9": "FR",
    "europe-west10": "DE",
    "europe-west12": "IT",
    "europe-north1": "FI",
    "europe-north2": "SE",
    "europe-central2": "PL",
    "europe-southwest1": "ES",
    "asia-east1": "TW",
    "asia-east2": "HK",
    "asia-northeast1": "JP",
    "asia-northeast2": "JP",
    "asia-northeast3": "KR",
    "asia-south1": "IN",
    "asia-south2": "IN",
    "asia-southeast1": "SG",
    "asia-southeast2": "ID",
    "australia-southeast1": "AU",
    "australia-southeast2": "AU",
    "northamerica-northeast1": "CA",
    "northamerica-northeast2": "CA",
    "northamerica-south1": "MX",
    "southamerica-east1": "BR",
    "southamerica-west1": "CL",
    "me-west1": "IL",
    "me-central1": "QA",
    "me-central2": "SA",
    "africa-south1": "ZA",
    # Azure (one word each)
    "eastus": "US",
    "eastus2": "US",
    "westus": "US",
    "westus2": "US",
    "westus3": "US",
    "centralus": "US",
    "northcentralus": "US",
    "southcentralus": "US",
    "westcentralus": "US",
    "usgovvirginia": "US",
    "usgovarizona": "US",
    "usgovtexas": "US",
    "canadacentral": "CA",
    "canadaeast": "CA",
    "mexicocentral": "MX",
    "brazilsouth": "BR",
    "brazilsoutheast": "BR",
    "chilecentral": "CL",
    "northeurope": "IE",
    "westeurope": "NL",
    "uksouth": "GB",
    "ukwest": "GB",
    "francecentral": "FR",
    "francesouth": "FR",
    "germanywestcentral": "DE",
    "germanynorth": "DE",
    "norwayeast": "NO",
    "norwaywest": "NO",
    "swedencentral": "SE",
    "swedensouth": "SE",
    "switzerlandnorth": "CH",
    "switzerlandwest": "CH",
    "polandcentral": "PL",
    "italynorth": "IT",
    "spaincentral": "ES",
    "austriaeast": "AT",
    "belgiumcentral": "BE",
    "denmarkeast": "DK",
    "finlandcentral": "FI",
    "greececentral": "GR",
    "uaenorth": "AE",
    "uaecentral": "AE",
    "qatarcentral": "QA",
    "israelcentral": "IL",
    "saudiarabiaeast": "SA",
    "southafricanorth": "ZA",
    "southafricawest": "ZA",
    "eastasia": "HK",
    "southeastasia": "SG",
    "japaneast": "JP",
    "japanwest": "JP",
    "koreacentral": "KR",
    "koreasouth": "KR",
    "centralindia": "IN",
    "southindia": "IN",
    "westindia": "IN",
    "jioindiawest": "IN",
    "jioindiacentral": "IN",
    "australiaeast": "AU",
    "australiasoutheast": "AU",
    "australiacentral": "AU",
    "australiacentral2": "AU",
    "newzealandnorth": "NZ",
    "indonesiacentral": "ID",
    "malaysiawest": "MY",
    "taiwannorth": "TW",
    # Paperspace
    "east coast (ny2)": "US",
    "west coast (ca1)": "US",
    "europe (ams1)": "NL",
}

_VAST = re.compile(r",\s*(?P<cc>[A-Za-z]{2}),\s*(?P<ct>[A-Za-z]{2})\s*$")
_CODE = re.compile(r"^[A-Za-z]{2}$")
_WORDS = re.compile(r"[a-z]+")
_UNKNOWN = RegionPlace(None, None)


def _from_country(country: str | None, continent: str | None = None) -> RegionPlace:
    return RegionPlace(_CONTINENT_OF.get(country or "", continent), country)


@cache
def region_place(region: str) -> RegionPlace:
    """The continent and, where known, the country of a provider's region string (both None when unknown).

    In order: the exact names of cloud regions whose country the words do not tell (``eu-central-1``: DE); Vast's
    ``"Place, CC, CT"`` (the ISO country decides, its continent code only when the country is not in our table);
    a bare two-letter country code (RunPod); then the words of the string (letters only, lower case, also joined
    in pairs and triples so ``new-york``/``north_dakota`` read as one word): a country, city or US state word
    names the country, a continent word (``eu``, ``europe``, ``asia``, ``sa``, ``me``...) the continent.
    Contradicting words (two different countries, or two continents and no country) place nothing.
    """
    text = region.strip()
    folded = text.casefold()
    if folded in _EXACT:
        return _from_country(_EXACT[folded])
    vast = _VAST.search(text)
    if vast:
        cc = vast.group("cc").upper()
        continent = None if cc in _CONTINENT_OF else _VAST_CONTINENT.get(vast.group("ct").upper())
        return _from_country(cc, continent)
    if _CODE.match(text):
        cc = text.upper()
        return _from_country(cc) if cc in _CONTINENT_OF else _UNKNOWN
    return _from_words(_WORDS.findall(folded))


def _from_words(words: list[str]) -> RegionPlace:
    joined = [*words, *("".join(words[i : i + 2]) for i in range(len(words) - 1))]
    joined += ["".join(words[i : i + 3]) for i in range(len(words) - 2)]
    countries = {_COUNTRY_WORDS[w] for w in joined if w in _COUNTRY_WORDS}
    continents = {_CONTINENT_WORDS[w] for w in joined if w in _CONTINENT_WORDS}
    if len(countries) == 1:
        return _from_country(next(iter(countries)))
    if not countries and len(continents) == 1:
        return RegionPlace(next(iter(continents)), None)
    return _UNKNOWN


def group_named(value: str) -> RegionGroup | None:
    """The group a ``region`` filter value names (case-insensitive, aliases and ``_``/space for ``-``), if any."""
    key = re.sub(r"[\s_]+", "-", value.strip().casefold())
    return REGION_GROUPS.get(GROUP_ALIASES.get(key, key))


@cache
def region_groups(region: str) -> tuple[str, ...]:
    """The names of the groups a region string belongs to (sorted; empty when it cannot be placed)."""
    place = region_place(region)
    return tuple(sorted(name for name, g in REGION_GROUPS.items() if g.holds(place)))


def region_predicate(values: Iterable[str]) -> Callable[[str], bool]:
    """A region filter: a region matches when it equals one of ``values`` ignoring case, or lies in a group one
    of them names (``eu``, ``europe``, ``us``...). A value that is both a group and a region name (RunPod's
    ``"US"``) matches both ways: the region of that name is in the group anyway."""
    exact = {v.strip().casefold() for v in values}
    groups = {g.name for v in values if (g := group_named(v)) is not None}

    def matches(region: str) -> bool:
        return region.casefold() in exact or (bool(groups) and not groups.isdisjoint(region_groups(region)))

    return matches
