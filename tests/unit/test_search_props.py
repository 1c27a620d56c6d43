"""Properties of GET /offers' service: filter correctness (against a brute-force oracle) and pagination
consistency (each match exactly once, in order, even when a new snapshot is published mid-walk)."""

from __future__ import annotations

import typing
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpubroker.domain.errors import CursorExpired, InvalidCursor, SnapshotMissing, ValidationFailed
from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.providers import COMPLIANCE_TAGS, PROVIDERS
from gpubroker.domain.regions import region_predicate
from gpubroker.domain.search import Cursor, OfferFilters, OfferQuery, SortKey
from gpubroker.domain.search_text import QueryTerm, parse_query
from gpubroker.services.offer_filters import normalise_filters, offer_matches
from gpubroker.services.search import (
    GPU_MODEL_WEIGHT,
    NUMBER_WEIGHT,
    TEXT_FIELDS,
    SnapshotCache,
    build_offer_columns,
    filter_mask,
    search_offers,
    text_scores,
)
from gpumath.columns import OfferColumns
from tests.fakes import V1, V2, MemorySnapshotStore

GPUS = [
    "H100-SXM",
    "H100-PCIe",
    "H100-NVL",
    "H200",
    "GH200",
    "RTX-A6000",
    "RTX-6000-Ada",
    "A100-40GB",
    "A100-80GB",
    "RTX-4090",
    "L40S",
    "MI300X",
]
SPECS = bundled_catalog().by_model()
REGIONS = [
    "us-east-1",
    "US",
    "Germany, DE, EU",
    "FIN-01",
    "CA",
    "montreal-canada-2",
    "frankfurt-germany-5",
    "tokyo-japan-1",
    "sydney-australia-2",
    "nowhere-7",
]
INSTANCES = ["gpu_1x_h100_sxm5", "1x_A6000_SECURE", "8x-RTX_4090", "imwt_L40S", "a100.pod", "lambdalabs_gpu_8x"]
PRICES = st.sampled_from([0.2, 0.5, 0.79, 1.0, 1.99, 2.5, 3.0, 12.0, 24.0])
FORM_FACTORS = st.sampled_from([None, "SXM", "PCIe"])


@st.composite
def offer_records(draw: st.DrawFn, n_max: int = 40) -> list[dict[str, Any]]:
    n = draw(st.integers(min_value=0, max_value=n_max))
    out = []
    for i in range(n):
        gpu = draw(st.sampled_from(GPUS))
        count = draw(st.sampled_from([1, 2, 4, 8]))
        price = draw(PRICES) * count
        spot_price = draw(st.one_of(st.none(), PRICES))
        spot = None if spot_price is None else spot_price * count / 2
        out.append(
            {
                "offer_id": f"p-{i:04d}",
                "provider": draw(st.sampled_from(["runpod", "vast", "lambda", "verda"])),
                "instance_type": draw(st.sampled_from(INSTANCES)),
                "gpu_model": gpu,
                "gpu_vendor": SPECS[gpu].vendor,
                "gpu_memory_gb": SPECS[gpu].memory_gb,
                "gpu_count": count,
                "form_factor": draw(FORM_FACTORS),
                "vcpus": draw(st.sampled_from([None, 4.0, 8.0, 32.0, 128.0])),
                "ram_gb": draw(st.sampled_from([None, 16.0, 64.0, 256.0])),
                "region": draw(st.sampled_from(REGIONS)),
                "price_per_hour": price,
                "price_per_gpu_hour": price / count,
                "spot_price_per_hour": spot,
                "available": draw(st.booleans()),
                "compliance": sorted(draw(st.sets(st.sampled_from(COMPLIANCE_TAGS), max_size=2))),
                "as_of": "2026-11-26T08:00:00+00:00",
                "stale": False,
                "source": "skypilot",
            }
        )
    return out


def _ordered(pair: tuple[float | None, float | None]) -> tuple[float | None, float | None]:
    lo, hi = pair
    return (hi, lo) if lo is not None and hi is not None and lo > hi else (lo, hi)


def _bounds(values: list[float]) -> st.SearchStrategy[tuple[float | None, float | None]]:
    """A (min, max) pair drawn from ``values`` (either may be absent), never min > max."""
    one = st.one_of(st.none(), st.sampled_from(values))
    return st.tuples(one, one).map(_ordered)


RANGES: dict[str, list[float]] = {
    "gpu_memory_gb": [24.0, 48.0, 80.0, 141.0],
    "total_gpu_memory_gb": [24.0, 96.0, 192.0, 640.0],
    "gpu_count": [1.0, 2.0, 4.0, 8.0],
    "vcpus": [4.0, 8.0, 32.0],
    "ram_gb": [16.0, 64.0, 256.0],
    "price_per_hour": [0.5, 1.0, 4.0, 24.0],
    "price_per_gpu_hour": [0.2, 0.79, 1.99, 3.0],
    "spot_price_per_hour": [0.1, 0.5, 2.0, 12.0],
}
LISTS = {
    "gpu": [*GPUS, "A6000", "rtx4090"],
    "provider": ["runpod", "vast", "lambda", "verda"],
    "region": [*REGIONS, "us-EAST-1", "eu", "Europe", "us", "na", "asia", "oceania", "apac", "emea"],
    "compliance": list(COMPLIANCE_TAGS),
    "gpu_vendor": ["nvidia", "AMD", "Intel"],
}


@st.composite
def queries(draw: st.DrawFn) -> OfferQuery:
    """Random searches: up to three of the filters (any of them), maybe words, any sort and page size."""
    chosen = draw(st.sets(st.sampled_from([*RANGES, *LISTS, "spot", "available"]), max_size=3))
    fields: dict[str, Any] = {}
    for name in chosen:
        if name in RANGES:
            lo, hi = draw(_bounds(RANGES[name]))
            fields[f"min_{name}"], fields[f"max_{name}"] = lo, hi
        elif name in LISTS:
            fields[name] = tuple(draw(st.lists(st.sampled_from(LISTS[name]), min_size=1, max_size=2)))
        else:
            fields[name] = draw(st.booleans())
    return OfferQuery(
        q=draw(st.one_of(st.none(), st.sampled_from(WORDS))),
        sort=draw(st.sampled_from(typing.get_args(SortKey))),
        limit=draw(st.integers(min_value=1, max_value=7)),
        **fields,
    )


WORDS = [
    "h100",
    "H200",
    "h-100",
    "rtx 6000 ada",
    "a6000",
    "4090",
    "rtx 4090 24gb",
    "mi300",
    "nvidia a100 80gb",
    "SECURE us",
    "vast",
    "de",
    "zzz",
    "8x h100",
    "europe",
    "frank",
    "lambda",
    "sxm",
    "pcie eu",
    "hopper",
    "datacrunch",
    "gpu",
]


def publish(store: MemorySnapshotStore, records: list[dict[str, Any]], version: str) -> None:
    cols = OfferColumns.from_records(records, compliance_vocab=COMPLIANCE_TAGS, meta={"version": version})
    store.publish(version, cols.to_bytes(), {"version": version})


ALIASES = {"A6000": "RTX-A6000", "rtx4090": "RTX-4090"}
SORT_FIELD = {
    "price": "price_per_hour",
    "price_per_gpu_hour": "price_per_gpu_hour",
    "gpu_memory": "gpu_memory_gb",
    "spot_price": "spot_price_per_hour",
}


def within(value: float | None, lo: float | None, hi: float | None) -> bool:
    if lo is None and hi is None:
        return True
    return value is not None and (lo is None or lo <= value) and (hi is None or value <= hi)


def passes_filters(r: dict[str, Any], q: OfferFilters) -> bool:
    """Brute force, written out: every filter checked on one record."""
    gpus = {ALIASES.get(g, g) for g in q.gpu}
    vendors = {v.casefold() for v in q.gpu_vendor}
    spot = r["spot_price_per_hour"]
    return (
        (not gpus or r["gpu_model"] in gpus)
        and (not q.provider or r["provider"] in q.provider)
        and (not q.region or region_predicate(q.region)(r["region"]))
        and set(q.compliance) <= set(r["compliance"])
        and (not vendors or r["gpu_vendor"].casefold() in vendors)
        and within(r["gpu_memory_gb"], q.min_gpu_memory_gb, q.max_gpu_memory_gb)
        and within(r["gpu_memory_gb"] * r["gpu_count"], q.min_total_gpu_memory_gb, q.max_total_gpu_memory_gb)
        and within(r["gpu_count"], q.min_gpu_count, q.max_gpu_count)
        and within(r["vcpus"], q.min_vcpus, q.max_vcpus)
        and within(r["ram_gb"], q.min_ram_gb, q.max_ram_gb)
        and within(r["price_per_hour"], q.min_price_per_hour, q.max_price_per_hour)
        and within(r["price_per_gpu_hour"], q.min_price_per_gpu_hour, q.max_price_per_gpu_hour)
        and (not q.spot or spot is not None)
        and within(spot, q.min_spot_price_per_hour, q.max_spot_price_per_hour)
        and r["available"] == q.available
    )


def term_weight(r: dict[str, Any], term: QueryTerm) -> tuple[int, set[str]]:
    """Brute force relevance of one term for one record: the best weight over fields, and the fields that hit."""
    hits: dict[str, int] = {}
    if term.gpu_models and r["gpu_model"] in term.gpu_models:
        hits["gpu_model"] = GPU_MODEL_WEIGHT
    if term.memory_gb is not None and round(r["gpu_memory_gb"]) == term.memory_gb:
        hits["gpu_memory"] = NUMBER_WEIGHT
    if term.gpu_count is not None and r["gpu_count"] == term.gpu_count:
        hits["gpu_count"] = NUMBER_WEIGHT
    for f in TEXT_FIELDS:
        value = r[f.col] if r[f.col] is not None else ""
        toks = set(f.tokenize(value))
        if any(w in toks for w in term.words):
            hits[f.name] = f.weight
        elif term.prefix and any(t.startswith(w) for t in toks for w in term.words):
            hits[f.name] = f.weight // 2
    return max(hits.values(), default=0), set(hits)


def oracle(records: list[dict[str, Any]], q: OfferQuery) -> list[str]:
    """Brute force: check every filter and every word on every record, then order by (relevance when q has
    words, sort key with unknown values last, offer_id)."""
    terms = parse_query(q.q) if q.q else ()
    key = SORT_FIELD[q.sort.lstrip("-")]
    sign = -1 if q.sort.startswith("-") else 1
    hits = []
    for r in records:
        weights = [term_weight(r, t)[0] for t in terms]
        if passes_filters(r, q) and all(weights):
            value = r[key]
            hits.append(((-sum(weights), value is None, sign * (value or 0.0), r["offer_id"]), r["offer_id"]))
    return [oid for _, oid in sorted(hits)]


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
@given(offer_records(), queries())
def test_filter_correctness(records: list[dict[str, Any]], q: OfferQuery) -> None:
    store = MemorySnapshotStore()
    publish(store, records, V1)
    ids, counts = walk(SnapshotCache(store, ttl_s=0), q)
    expected = oracle(records, q)
    assert ids == expected  # every returned offer matches, none is missing, order is the sort order
    assert set(counts) == {len(expected)}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offer_records(n_max=30), offer_records(n_max=30), queries())
def test_pagination_consistency_across_a_new_snapshot(
    first: list[dict[str, Any]], second: list[dict[str, Any]], q: OfferQuery
) -> None:
    store = MemorySnapshotStore()
    publish(store, first, V1)
    cache = SnapshotCache(store, ttl_s=0)
    published: list[bool] = []

    def new_snapshot() -> None:
        if not published:
            publish(store, second, V2)
            published.append(True)

    ids, _ = walk(cache, q, between_pages=new_snapshot)
    assert ids == oracle(first, q)  # the walk stays on the snapshot it started on
    assert len(ids) == len(set(ids))
    new_snapshot()
    fresh, _ = walk(cache, q)  # a new walk sees the new snapshot
    assert fresh == oracle(second, q)


def test_cursor_errors() -> None:
    store = MemorySnapshotStore()
    publish(store, [], V1)
    cache = SnapshotCache(store, ttl_s=0)
    with pytest.raises(InvalidCursor):
        search_offers(OfferQuery(cursor="not-base64-json!"), snapshots=cache)
    q = OfferQuery(limit=1, gpu=("H100-SXM",))
    token = Cursor(v=V1, r=0, h=q.filter_hash()).encode()
    with pytest.raises(InvalidCursor):  # the cursor was made for other filters
        search_offers(OfferQuery(limit=1, cursor=token), snapshots=cache)
    store.expire(V1)
    cache2 = SnapshotCache(store, ttl_s=0)
    with pytest.raises(CursorExpired):
        search_offers(q.model_copy(update={"cursor": token}), snapshots=cache2)


def test_unknown_values_are_422_and_empty_store_is_503() -> None:
    store = MemorySnapshotStore()
    with pytest.raises(SnapshotMissing):
        search_offers(OfferQuery(), snapshots=SnapshotCache(store))
    publish(store, [], V1)
    cache = SnapshotCache(store, ttl_s=0)
    assert search_offers(OfferQuery(), snapshots=cache).count == 0
    for bad in (OfferQuery(gpu=("TPU",)), OfferQuery(provider=("nope",)), OfferQuery(compliance=("hipaa",))):
        with pytest.raises(ValidationFailed):
            search_offers(bad, snapshots=cache)
    assert "nope" not in PROVIDERS


def test_manifest_is_rechecked_only_after_ttl() -> None:
    store = MemorySnapshotStore()
    publish(store, [], V1)
    now = [0.0]
    cache = SnapshotCache(store, ttl_s=2.0, monotonic=lambda: now[0])
    for _ in range(10):
        cache.current()
    assert store.manifest_reads == 1
    now[0] = 2.5
    publish(store, [], V2)
    assert cache.current().meta["version"] == V2
    assert store.manifest_reads == 2


@st.composite
def filters(draw: st.DrawFn) -> OfferFilters:
    return draw(queries()).filters()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offer_records(), filters())
def test_filter_mask_is_the_per_offer_predicate(records: list[dict[str, Any]], f: OfferFilters) -> None:
    """What live subscriptions use (``offer_matches``, one offer, no NumPy) selects exactly what GET /offers'
    columnar ``filter_mask`` selects, and both agree with the brute force written out above."""
    f = normalise_filters(f)
    cols = build_offer_columns(records, meta={"version": "v"})
    columnar = filter_mask(cols, f).tolist()
    assert columnar == [offer_matches(r, f) for r in records]
    assert columnar == [passes_filters(r, f) for r in records]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offer_records(), st.sampled_from(WORDS))
def test_text_scores_and_match_fields_are_the_brute_force_ones(records: list[dict[str, Any]], q: str) -> None:
    terms = parse_query(q)
    cols = build_offer_columns(records, meta={"version": "v"})
    hits, score = text_scores(cols, terms, np.ones(cols.n, dtype=np.bool_))
    expected = {}
    for i, r in enumerate(records):
        per_term = [term_weight(r, t)[0] for t in terms]
        if all(per_term):
            expected[i] = sum(per_term)
    assert dict(zip(hits.tolist(), score.tolist(), strict=True)) == expected
    page = search_offers(OfferQuery(q=q, limit=100, available=True), snapshots=_cache(records))
    by_id = {r["offer_id"]: r for r in records}
    for item in page.items:
        if not terms:  # only filler words ("gpu"): no condition, no match to explain
            assert item.match is None
            continue
        assert item.match is not None
        fields = set().union(*(term_weight(by_id[item.offer_id], t)[1] for t in terms))
        assert set(item.match.fields) == fields
        assert item.match.score == sum(term_weight(by_id[item.offer_id], t)[0] for t in terms)


def _cache(records: list[dict[str, Any]]) -> SnapshotCache:
    store = MemorySnapshotStore()
    publish(store, records, V1)
    return SnapshotCache(store, ttl_s=0)


def test_every_snapshot_version_made_matches_the_cursor_pattern() -> None:
    """A cursor's version is checked against ``SNAPSHOT_VERSION_PATTERN``: the versions ingestion makes must match."""
    import re
    from datetime import UTC, datetime, timedelta, timezone

    from gpubroker.domain.types import SNAPSHOT_VERSION_PATTERN
    from gpubroker.services.ingestion import snapshot_version

    for as_of in (
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(1999, 12, 31, tzinfo=timezone(timedelta(hours=-5))),
    ):
        version = snapshot_version(as_of, [{"offer_id": "runpod-1", "price_per_hour": 1.5}])
        assert re.fullmatch(SNAPSHOT_VERSION_PATTERN, version), version


def test_a_container_holding_a_snapshot_keeps_answering_when_the_manifest_or_the_snapshot_goes_missing() -> None:
    """make chaos, "S3 snapshot missing": the last snapshot a warm container holds answers (no 503 where a
    fallback exists); a cold container answers SnapshotMissing; a new publication is read again."""
    store = MemorySnapshotStore()
    publish(store, [], V1)
    cache = SnapshotCache(store, ttl_s=0)
    assert cache.current().meta["version"] == V1
    store.latest = None  # the manifest deleted
    assert cache.current().meta["version"] == V1
    with pytest.raises(SnapshotMissing):
        SnapshotCache(store, ttl_s=0).current()
    publish(store, [], V2)
    store.expire(V2)  # listed, its data gone
    assert cache.current().meta["version"] == V1
    with pytest.raises(SnapshotMissing):
        SnapshotCache(store, ttl_s=0).current()
    publish(store, [], V3)
    assert cache.current().meta["version"] == V3


V3 = "20261126T130000000000Z-0000000c"
