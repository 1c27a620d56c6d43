"""Any catalog, any provider (issue 10 part 2): a catalog-only provider is registered by the run that ingests it,
listed, searchable, priced as what it is (not a marketplace unless registered as one) and removable; built-ins
are fixed; every name that enters is checked for its shape."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpubroker.domain.errors import BuiltinProvider, ProviderNotFound, SourceError, ValidationFailed
from gpubroker.domain.ingest_events import parse_event
from gpubroker.domain.offers import RawOffer
from gpubroker.domain.providers import (
    PROVIDER_NAME_PATTERN,
    PROVIDERS,
    check_provider_name,
    default_display_name,
    is_marketplace,
    known_provider,
    provider_names,
    registered,
)
from gpubroker.domain.search import OfferQuery
from gpubroker.services.catalog import list_providers
from gpubroker.services.ingestion import remove_provider
from gpubroker.services.offer_math import build_offer_math
from gpubroker.services.search import SnapshotCache, search_offers
from gpumath.columns import OfferColumns
from tests.fakes import FailingSource, ListSource, World


def rows(provider: str, *prices: float) -> list[RawOffer]:
    return [
        RawOffer(
            provider=provider,
            instance_type=f"gpu-h100-sxm5-{i}",
            region="eu-north1",
            gpu_name="H100",
            gpu_count=1,
            gpu_memory_gb=80,
            price_per_hour=p,
        )
        for i, p in enumerate(prices)
    ]


def nebius(w: World, **registration: object) -> None:
    report = w.run(ListSource("nebius", list(rows("nebius", 2.95, 3.10))), registration)
    assert report.status == "ok" and report.accepted == 2, report


def test_a_catalog_only_provider_is_registered_listed_and_searchable() -> None:
    w = World()
    w.run(ListSource("runpod", list(rows("runpod", 2.5))))
    nebius(w, display_name="Nebius AI Cloud", website="https://nebius.com")
    manifest = w.snapshots.latest
    assert manifest is not None
    assert manifest["registry"] == {
        "nebius": {"display_name": "Nebius AI Cloud", "website": "https://nebius.com", "marketplace": False}
    }
    listed = {p.name: p for p in list_providers(snapshots=w.snapshots)}
    assert set(PROVIDERS) < set(listed)
    assert listed["nebius"].display_name == "Nebius AI Cloud" and listed["nebius"].builtin is False
    assert listed["nebius"].offers == listed["nebius"].available_offers == 2
    assert listed["runpod"].builtin is True
    cache = SnapshotCache(w.snapshots, ttl_s=0)
    page = search_offers(OfferQuery(provider=("Nebius",)), snapshots=cache)
    assert page.count == 2 and {o.provider for o in page.items} == {"nebius"}
    assert search_offers(OfferQuery(provider=("nebius", "runpod")), snapshots=cache).count == 3


def test_registration_defaults_and_a_later_run_keeps_what_was_registered() -> None:
    w = World()
    nebius(w)
    assert w.snapshots.registry["nebius"] == {"display_name": "Nebius", "website": None, "marketplace": False}
    w.snapshots.registry["nebius"] = {
        "display_name": "Nebius AI",
        "website": "https://nebius.com",
        "marketplace": False,
    }
    w.clock.advance(60)
    nebius(w)  # no registration given: kept
    assert w.snapshots.registry["nebius"]["display_name"] == "Nebius AI"
    w.clock.advance(60)
    nebius(w, website="https://nebius.ai")  # one field given: only it changes
    assert w.snapshots.registry["nebius"] == {
        "display_name": "Nebius AI",
        "website": "https://nebius.ai",
        "marketplace": False,
    }
    assert default_display_name("prime-intellect") == "Prime Intellect"


def test_a_failed_first_run_registers_nothing_and_publishes_nothing() -> None:
    w = World()
    report = w.run(FailingSource("nebius", SourceError("no such file")), {"display_name": "Nebius"})
    assert report.status == "failed" and report.error and "no such file" in report.error
    assert w.snapshots.registry == {} and w.snapshots.latest is None


def test_unknown_providers_are_refused_by_search_until_registered() -> None:
    w = World()
    w.run(ListSource("runpod", list(rows("runpod", 2.5))))
    cache = SnapshotCache(w.snapshots, ttl_s=0)
    with pytest.raises(ValidationFailed) as refused:
        search_offers(OfferQuery(provider=("nebius",)), snapshots=cache)
    assert refused.value.details["parameter"] == "provider"
    with pytest.raises(ValidationFailed):
        search_offers(OfferQuery(provider=("no such!",)), snapshots=cache)


def test_marketplace_flag_comes_from_the_registration_not_a_guess() -> None:
    w = World()
    nebius(w)
    w.clock.advance(60)
    w.run(ListSource("clore", list(rows("clore", 1.9))), {"marketplace": True})
    manifest = w.snapshots.latest
    assert is_marketplace("nebius", manifest) is False and is_marketplace("clore", manifest) is True
    assert is_marketplace("vast", manifest) is True and is_marketplace("runpod", None) is False
    assert w.snapshots.latest is not None
    cols = OfferColumns.from_bytes(w.snapshots.blobs[w.snapshots.latest["version"]])
    reliability = dict(zip(cols.offer_id, build_offer_math(cols).columns["reliability"], strict=True))
    by_provider = {oid.split("-")[0]: r for oid, r in reliability.items()}
    assert by_provider["nebius"] == 1.0 and by_provider["clore"] < 1.0


def test_removal_marks_offers_unavailable_and_republishes_without_the_provider() -> None:
    w = World()
    w.run(ListSource("runpod", list(rows("runpod", 2.5))))
    nebius(w, display_name="Nebius")
    w.clock.advance(60)
    removal = remove_provider("nebius", offers=w.offers, history=w.history, snapshots=w.snapshots, clock=w.clock)
    assert removal.marked_unavailable == 2 and removal.status == "removed"
    assert w.snapshots.latest is not None and w.snapshots.latest["version"] == removal.snapshot_version
    assert "nebius" not in w.snapshots.latest["registry"] and "nebius" not in w.snapshots.latest["providers"]
    assert "nebius" not in w.snapshots.part_data and "nebius" not in w.snapshots.registry
    assert all(not o.available for o in w.offers.offers_of("nebius"))
    assert [p["available"] for p in w.history.points if p["provider"] == "nebius"][-2:] == [False, False]
    cols = OfferColumns.from_bytes(w.snapshots.blobs[removal.snapshot_version])
    assert cols.n == 1
    assert "nebius" not in {p.name for p in list_providers(snapshots=w.snapshots)}
    with pytest.raises(ProviderNotFound):  # already gone
        remove_provider("nebius", offers=w.offers, history=w.history, snapshots=w.snapshots, clock=w.clock)
    with pytest.raises(BuiltinProvider):
        remove_provider("runpod", offers=w.offers, history=w.history, snapshots=w.snapshots, clock=w.clock)
    # and it can come back
    w.clock.advance(60)
    nebius(w)
    assert {o.available for o in w.offers.offers_of("nebius")} == {True}


def test_ingest_events_take_any_well_formed_name_and_a_registration() -> None:
    event = parse_event({"provider": "nebius", "catalog": "/x/vms.csv", "display_name": "Nebius",
                         "website": "https://nebius.com", "marketplace": False})  # fmt: skip
    assert event.registration() == {"display_name": "Nebius", "website": "https://nebius.com", "marketplace": False}
    assert parse_event({"provider": "nebius", "action": "remove"}).action == "remove"
    assert parse_event({"provider": "runpod", "catalog": "/x/vms.csv"}).registration() == {}


NAMES = st.from_regex(PROVIDER_NAME_PATTERN, fullmatch=True).filter(lambda n: 2 <= len(n) <= 32)


@given(NAMES)
def test_every_well_formed_name_passes_the_shape_check_and_makes_a_valid_offer_id(name: str) -> None:
    assert check_provider_name(name) == name
    assert known_provider(name, None) == name
    from gpubroker.domain.offers import offer_id_for
    from gpubroker.domain.types import OFFER_ID_MAX_LENGTH, OFFER_ID_PATTERN

    oid = offer_id_for(name, "x", "y")
    import re

    assert re.fullmatch(OFFER_ID_PATTERN, oid) and len(oid) <= OFFER_ID_MAX_LENGTH


@given(st.text(max_size=40).filter(lambda t: not (t.isascii() and t.islower() and t.replace("-", "").isalnum())))
def test_malformed_names_are_refused_everywhere(name: str) -> None:
    with pytest.raises(ValueError):
        check_provider_name(name)
    with pytest.raises(ValidationFailed):
        parse_event({"provider": name, "catalog": "/x/vms.csv"})


def test_known_provider_is_registry_aware() -> None:
    manifest = {"registry": {"nebius": {"display_name": "Nebius", "website": None, "marketplace": False}}}
    known = provider_names(manifest)
    assert known_provider("nebius", known) == "nebius"
    with pytest.raises(ValueError, match="unknown provider"):
        known_provider("nebius", provider_names(None))
    assert set(registered(manifest)) == {"nebius"}
    # a built-in cannot be shadowed by a registry entry
    assert registered({"registry": {"runpod": {"display_name": "Fake"}}}) == {}


def test_a_refused_event_says_why_in_its_message() -> None:
    # across a Lambda invoke only the message travels: make ingest prints it
    with pytest.raises(ValidationFailed, match=r"invalid: provider: String should have at least 2 characters"):
        parse_event({"provider": "x", "catalog": "/nonexistent"})
