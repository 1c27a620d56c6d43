"""Properties of GET /offers' service: filter correctness (against a brute-force oracle) and pagination
consistency (each match exactly once, in order, even when a new snapshot is published mid-walk)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpubroker.domain.errors import CursorExpired, InvalidCursor, SnapshotMissing, ValidationFailed
from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.providers import COMPLIANCE_TAGS, PROVIDERS
from gpubroker.domain.regions import region_predicate
from gpubroker.domain.search import Cursor, OfferQuery
from gpubroker.services.search import SnapshotCache, search_offers
from gpumath.columns import OfferColumns
from tests.fakes import MemorySnapshotStore

GPUS = ["H100-SXM", "H100-PCIe", "RTX-A6000", "A100-80GB", "RTX-4090", "L40S"]
MEM = {g.model: g.memory_gb for g in bundled_catalog().gpus}
REGIONS = ["us-east-1", "US", "Germany, DE, EU", "FIN-01", "CA"]
INSTANCES = ["gpu_1x_h100_sxm5", "1x_A6000_SECURE", "8x-RTX_4090", "imwt_L40S", "a100.pod"]
PRICES = st.sampled_from([0.2, 0.5, 0.79, 1.0, 1.99, 2.5, 3.0, 12.0, 24.0])


@st.composite
def offer_records(draw: st.DrawFn, n_max: int = 40) -> list[dict[str, Any]]:
    n = draw(st.integers(min_value=0, max_value=n_max))
    out = []
    for i in range(n):
        gpu = draw(st.sampled_from(GPUS))
        count = draw(st.sampled_from([1, 2, 4, 8]))
        price = draw(PRICES) * count
        out.append(
            {
                "offer_id": f"p-{i:04d}",
                "provider": draw(st.sampled_from(["runpod", "vast", "lambda", "verda"])),
                "instance_type": draw(st.sampled_from(INSTANCES)),
                "gpu_model": gpu,
                "gpu_vendor": "NVIDIA",
                "gpu_memory_gb": MEM[gpu],
                "gpu_count": count,
                "form_factor": None,
                "vcpus": 8.0,
                "ram_gb": None,
                "region": draw(st.sampled_from(REGIONS)),
                "price_per_hour": price,
                "price_per_gpu_hour": price / count,
                "spot_price_per_hour": None,
                "available": draw(st.booleans()),
                "compliance": sorted(draw(st.sets(st.sampled_from(COMPLIANCE_TAGS), max_size=2))),
                "as_of": "2026-11-26T08:00:00+00:00",
                "stale": False,
                "source": "skypilot",
            }
        )
    return out


queries = st.builds(
    OfferQuery,
    gpu=st.lists(st.sampled_from([*GPUS, "A6000", "rtx4090"]), max_size=2).map(tuple),
    provider=st.lists(st.sampled_from(["runpod", "vast", "lambda", "verda"]), max_size=2).map(tuple),
    region=st.lists(st.sampled_from([*REGIONS, "us-EAST-1"]), max_size=2).map(tuple),
    compliance=st.lists(st.sampled_from(COMPLIANCE_TAGS), max_size=2).map(tuple),
    min_gpu_memory_gb=st.one_of(st.none(), st.sampled_from([0.0, 24.0, 48.0, 80.0])),
    max_price_per_hour=st.one_of(st.none(), PRICES.map(lambda p: p * 4)),
    min_price_per_gpu_hour=st.one_of(st.none(), PRICES),
    available=st.booleans(),
    q=st.one_of(st.none(), st.sampled_from(["h100", "SECURE us", "vast", "rtx 4090", "de", "zzz"])),
    sort=st.sampled_from(["price", "-price", "price_per_gpu_hour", "-price_per_gpu_hour", "gpu_memory", "-gpu_memory"]),
    limit=st.integers(min_value=1, max_value=7),
)


def publish(store: MemorySnapshotStore, records: list[dict[str, Any]], version: str) -> None:
    cols = OfferColumns.from_records(records, compliance_vocab=COMPLIANCE_TAGS, meta={"version": version})
    store.publish(version, cols.to_bytes(), {"version": version})


ALIASES = {"A6000": "RTX-A6000", "rtx4090": "RTX-4090"}
SORT_FIELD = {
    "price": "price_per_hour",
    "price_per_gpu_hour": "price_per_gpu_hour",
    "gpu_memory": "gpu_memory_gb",
}


def oracle(records: list[dict[str, Any]], q: OfferQuery) -> list[str]:
    """Brute force: check every filter on every record, then sort by (key, offer_id)."""
    gpus = {ALIASES.get(g, g) for g in q.gpu}
    regions = {r.casefold() for r in q.region}

    def ok(r: dict[str, Any]) -> bool:
        text = [r["provider"], r["gpu_model"], r["region"], r["instance_type"]]
        return (
            (not gpus or r["gpu_model"] in gpus)
            and (not q.provider or r["provider"] in q.provider)
            and (not regions or region_predicate(q.region)(r["region"]))
            and set(q.compliance) <= set(r["compliance"])
            and (q.min_gpu_memory_gb is None or r["gpu_memory_gb"] >= q.min_gpu_memory_gb)
            and (q.max_price_per_hour is None or r["price_per_hour"] <= q.max_price_per_hour)
            and (q.min_price_per_gpu_hour is None or r["price_per_gpu_hour"] >= q.min_price_per_gpu_hour)
            and r["available"] == q.available
            and all(any(t.casefold() in f.casefold() for f in text) for t in (q.q or "").split())
        )

    key = SORT_FIELD[q.sort.lstrip("-")]
    sign = -1 if q.sort.startswith("-") else 1
    hits = sorted((r for r in records if ok(r)), key=lambda r: (sign * r[key], r["offer_id"]))
    return [r["offer_id"] for r in hits]


def walk(cache: SnapshotCache, q: OfferQuery, between_pages: Any = None) -> tuple[list[str], list[int]]:
    ids: list[str] = []
    counts: list[int] = []
    page = search_offers(q, snapshots=cache)
    while True:
        ids += [i.offer_id for i in page.items]
        counts.append(page.count)
        assert len(page.items) <= q.limit
        if page.next_cursor is None:
            return ids, counts
        assert len(page.items) == q.limit
        if between_pages:
            between_pages()
        page = search_offers(q.model_copy(update={"cursor": page.next_cursor}), snapshots=cache)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offer_records(), queries)
def test_filter_correctness(records: list[dict[str, Any]], q: OfferQuery) -> None:
    store = MemorySnapshotStore()
    publish(store, records, "v1")
    ids, counts = walk(SnapshotCache(store, ttl_s=0), q)
    expected = oracle(records, q)
    assert ids == expected  # every returned offer matches, none is missing, order is the sort order
    assert set(counts) == {len(expected)}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offer_records(n_max=30), offer_records(n_max=30), queries)
def test_pagination_consistency_across_a_new_snapshot(
    first: list[dict[str, Any]], second: list[dict[str, Any]], q: OfferQuery
) -> None:
    store = MemorySnapshotStore()
    publish(store, first, "v1")
    cache = SnapshotCache(store, ttl_s=0)
    published: list[bool] = []

    def new_snapshot() -> None:
        if not published:
            publish(store, second, "v2")
            published.append(True)

    ids, _ = walk(cache, q, between_pages=new_snapshot)
    assert ids == oracle(first, q)  # the walk stays on the snapshot it started on
    assert len(ids) == len(set(ids))
    new_snapshot()
    fresh, _ = walk(cache, q)  # a new walk sees the new snapshot
    assert fresh == oracle(second, q)


def test_cursor_errors() -> None:
    store = MemorySnapshotStore()
    publish(store, [], "v1")
    cache = SnapshotCache(store, ttl_s=0)
    with pytest.raises(InvalidCursor):
        search_offers(OfferQuery(cursor="not-base64-json!"), snapshots=cache)
    q = OfferQuery(limit=1, gpu=("H100-SXM",))
    token = Cursor(v="v1", r=0, h=q.filter_hash()).encode()
    with pytest.raises(InvalidCursor):  # the cursor was made for other filters
        search_offers(OfferQuery(limit=1, cursor=token), snapshots=cache)
    store.expire("v1")
    cache2 = SnapshotCache(store, ttl_s=0)
    with pytest.raises(CursorExpired):
        search_offers(q.model_copy(update={"cursor": token}), snapshots=cache2)


def test_unknown_values_are_422_and_empty_store_is_503() -> None:
    store = MemorySnapshotStore()
    with pytest.raises(SnapshotMissing):
        search_offers(OfferQuery(), snapshots=SnapshotCache(store))
    publish(store, [], "v1")
    cache = SnapshotCache(store, ttl_s=0)
    assert search_offers(OfferQuery(), snapshots=cache).count == 0
    for bad in (OfferQuery(gpu=("TPU",)), OfferQuery(provider=("nope",)), OfferQuery(compliance=("hipaa",))):
        with pytest.raises(ValidationFailed):
            search_offers(bad, snapshots=cache)
    assert "nope" not in PROVIDERS


def test_manifest_is_rechecked_only_after_ttl() -> None:
    store = MemorySnapshotStore()
    publish(store, [], "v1")
    now = [0.0]
    cache = SnapshotCache(store, ttl_s=2.0, monotonic=lambda: now[0])
    for _ in range(10):
        cache.current()
    assert store.manifest_reads == 1
    now[0] = 2.5
    publish(store, [], "v2")
    assert cache.current().meta["version"] == "v2"
    assert store.manifest_reads == 2
