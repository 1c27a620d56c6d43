"""Offer search over the columnar snapshot: validated filters -> one mask -> a page in sort order.

Imports NumPy (through gpumath): only the functions that compute on columns import this module.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from gpubroker.domain.errors import CursorExpired, InvalidCursor, SnapshotMissing
from gpubroker.domain.providers import COMPLIANCE_TAGS, PROVIDERS, provider_names
from gpubroker.domain.regions import GROUP_ALIASES, region_groups, region_place, region_predicate
from gpubroker.domain.search import (
    Cursor,
    Interpretation,
    MatchField,
    OfferFilters,
    OfferMatch,
    OfferOut,
    OfferPage,
    OfferQuery,
)
from gpubroker.domain.search_text import QueryTerm, gpu_tokens, parse_query, tokens
from gpubroker.ports import SnapshotReader
from gpubroker.services.offer_filters import interpret_gpu_filter, normalise_filters, resolve_gpu_filter
from gpumath.arrays import I64, B
from gpumath.columns import OfferColumns

I16 = NDArray[np.int16]


class SnapshotCache:
    """Keeps the latest snapshot (and a few pinned older ones) decoded in memory for a warm container.

    The manifest (a small object naming the latest version) is re-read at most every ``ttl_s`` seconds. When the
    manifest or the snapshot it names cannot be read (deleted, a failed publication: ``make chaos``, "S3 snapshot
    missing"), a container that holds a snapshot keeps answering from the newest one it holds (each answer names
    its version) until a readable one is published; only a container that holds none answers ``SnapshotMissing``.
    """

    def __init__(
        self,
        reader: SnapshotReader,
        *,
        ttl_s: float = 2.0,
        keep: int = 3,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = reader
        self._ttl = ttl_s
        self._keep = keep
        self._now = monotonic
        self._checked_at = -float("inf")
        self._latest: str | None = None
        self._loaded: OrderedDict[str, OfferColumns] = OrderedDict()
        self._lock = threading.Lock()

    def latest_version(self) -> str:
        with self._lock:
            if self._now() - self._checked_at >= self._ttl or self._latest is None:
                manifest = self._reader.manifest()
                listed = manifest["version"] if manifest else None
                if listed is not None or self._latest not in self._loaded:  # gone: keep the one held
                    self._latest = listed
                self._checked_at = self._now()
            if self._latest is None:
                raise SnapshotMissing("no offer snapshot has been published yet; run ingestion first")
            return self._latest

    def get(self, version: str) -> OfferColumns | None:
        with self._lock:
            cols = self._loaded.get(version)
            if cols is not None:
                self._loaded.move_to_end(version)
                return cols
        data = self._reader.load(version)
        if data is None:
            return None
        cols = OfferColumns.from_bytes(data)
        prepare_text_indexes(cols)
        with self._lock:
            self._loaded[version] = cols
            while len(self._loaded) > self._keep:
                self._loaded.popitem(last=False)
        return cols

    def current(self) -> OfferColumns:
        version = self.latest_version()
        cols = self.get(version)
        if cols is not None:
            return cols
        with self._lock:  # listed but unreadable: the newest snapshot this container holds, if any
            held = next(reversed(self._loaded.values()), None)
        if held is None:
            raise SnapshotMissing(f"snapshot {version} is listed but cannot be read")
        return held


def build_offer_columns(records: Sequence[Mapping[str, Any]], *, meta: Mapping[str, Any]) -> OfferColumns:
    """Offers (``Offer.model_dump(mode="json")`` dicts, ``as_of`` ISO-8601 or epoch s) as a searchable
    ``OfferColumns``: what ingestion publishes, or a few changed offers to run ``filter_mask`` over. Cost: linear
    in the offers (about 11 us each), plus the text indexes (once per vocabulary entry) for ``q``."""
    cols = OfferColumns.from_records(records, compliance_vocab=COMPLIANCE_TAGS, meta=meta)
    prepare_text_indexes(cols)
    return cols


def normalise_query(query: OfferQuery, *, known_providers: Collection[str] = PROVIDERS) -> OfferQuery:
    """The query with canonical filter values (``services.offer_filters.normalise_filters``); ``known_providers``:
    the providers of the snapshot searched (``provider_names(manifest)``)."""
    return normalise_filters(query, known_providers=known_providers)


def filter_mask(cols: OfferColumns, filters: OfferFilters) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """One boolean mask for every filter of already normalised filters: exactly the offers ``offer_matches``
    accepts (property-tested), computed column-wise."""
    f = filters
    mask = np.ones(cols.n, dtype=np.bool_)
    if f.gpu:
        mask &= cols.in_values("gpu_model", f.gpu)
    if f.provider:
        mask &= cols.in_values("provider", f.provider)
    if f.region:
        mask &= cols.vocab_mask("region", region_predicate(f.region))
    if f.compliance:
        mask &= cols.compliance_mask(f.compliance)
    if f.gpu_vendor:
        mask &= cols.in_values_casefold("gpu_vendor", f.gpu_vendor)
    for col, lo, hi in (
        ("gpu_memory_gb", f.min_gpu_memory_gb, f.max_gpu_memory_gb),
        ("total_gpu_memory_gb", f.min_total_gpu_memory_gb, f.max_total_gpu_memory_gb),
        ("gpu_count", f.min_gpu_count, f.max_gpu_count),
        ("vcpus", f.min_vcpus, f.max_vcpus),
        ("ram_gb", f.min_ram_gb, f.max_ram_gb),
        ("price_per_hour", f.min_price_per_hour, f.max_price_per_hour),
        ("price_per_gpu_hour", f.min_price_per_gpu_hour, f.max_price_per_gpu_hour),
        ("spot_price_per_hour", f.min_spot_price_per_hour, f.max_spot_price_per_hour),
    ):
        if lo is not None or hi is not None:
            mask &= cols.range_mask(col, lo, hi)
    if f.spot:
        mask &= ~np.isnan(cols.floats["spot_price_per_hour"])
    mask &= cols.bools["available"] == f.available
    return mask


@dataclass(frozen=True)
class TextField:
    """A searchable field: the categorical column it reads, how its values split into tokens, and the weight a
    query word earns by matching one of them (half for a prefix match)."""

    name: MatchField
    col: str
    tokenize: Callable[[str], Iterable[str]]
    weight: int


def _provider_tokens(name: str) -> tuple[str, ...]:
    provider = PROVIDERS.get(name)
    return tokens(name) + (tokens(provider.display_name) if provider else ())


def _place_tokens(region: str) -> tuple[str, ...]:
    """A region's groups (``eu``, ``emea``), their aliases (``europe``) and its country code (``de``)."""
    groups = region_groups(region)
    aliases = tuple(a for a, g in GROUP_ALIASES.items() if g in groups)
    country = region_place(region).country
    return groups + aliases + ((country.casefold(),) if country else ())


GPU_MODEL_WEIGHT = 100  # the offer's GPU is one the query's GPU phrase names
NUMBER_WEIGHT = 30  # a memory (24gb) or count (8x) word holds for the offer
TEXT_FIELDS: tuple[TextField, ...] = (
    TextField("gpu_family", "gpu_model", gpu_tokens, 60),
    TextField("gpu_vendor", "gpu_vendor", tokens, 30),
    TextField("form_factor", "form_factor", tokens, 30),
    TextField("provider", "provider", _provider_tokens, 30),
    TextField("region", "region", tokens, 20),
    TextField("region_group", "region", _place_tokens, 20),
    TextField("instance_type", "instance_type", tokens, 10),
)
MATCH_FIELDS: tuple[MatchField, ...] = ("gpu_model", "gpu_memory", "gpu_count", *(f.name for f in TEXT_FIELDS))


def prepare_text_indexes(cols: OfferColumns) -> None:
    """Build every field's token index now (a warm container does it once per snapshot, on load)."""
    for f in TEXT_FIELDS:
        cols.token_index(f.name, f.col, f.tokenize)


@dataclass(frozen=True)
class _Source:
    """Where one term can match: a field, its categorical column, and the weight per vocabulary entry."""

    field: MatchField
    col: str
    lut: I16


def _sources(cols: OfferColumns, term: QueryTerm) -> list[_Source]:
    """The vocabulary-level look-up tables of one term, one per field it matches somewhere (small work, kept with
    the snapshot for the query's terms: the page's match fields read them again)."""
    cached = cols.memo.get(("sources", term))
    if cached is not None:
        return cast(list[_Source], cached)
    out: list[_Source] = []
    if term.gpu_models:
        out.append(_Source("gpu_model", "gpu_model", cols.value_lut("gpu_model", term.gpu_models, GPU_MODEL_WEIGHT)))
    for f in TEXT_FIELDS:
        lut = cols.token_lut(f.col, cols.token_index(f.name, f.col, f.tokenize), term.words, f.weight, term.prefix)
        if lut is not None:
            out.append(_Source(f.name, f.col, lut))
    cols.remember(("sources", term), out)
    return out


def _numbers(cols: OfferColumns, term: QueryTerm, idx: I64 | None) -> list[tuple[MatchField, B]]:
    """A memory or count word, for the offers ``idx`` (None: every offer)."""
    out: list[tuple[MatchField, B]] = []
    if term.memory_gb is not None:
        memory = cols.floats["gpu_memory_gb"]
        out.append(("gpu_memory", np.rint(memory if idx is None else memory.take(idx)) == term.memory_gb))
    if term.gpu_count is not None:
        count = cols.ints["gpu_count"]
        out.append(("gpu_count", (count if idx is None else count.take(idx)) == term.gpu_count))
    return out


def _term_best(cols: OfferColumns, term: QueryTerm, idx: I64 | None) -> I16:
    """The best weight ``term`` earns for each offer of ``idx`` (None: every offer): one gather per categorical
    column it matches anywhere (fields sharing a column share the gather), plus its memory/count test."""
    per_col: dict[str, I16] = {}
    for src in _sources(cols, term):
        lut = per_col.get(src.col)
        per_col[src.col] = src.lut if lut is None else np.maximum(lut, src.lut)
    best = np.zeros(cols.n if idx is None else idx.shape[0], dtype=np.int16)
    for col, lut in per_col.items():
        codes = cols.codes[col] if idx is None else cols.codes[col].take(idx)
        np.maximum(best, lut.take(codes), out=best)
    for _, hit in _numbers(cols, term, idx):
        np.maximum(best, hit * np.int16(NUMBER_WEIGHT), out=best)
    return best


def text_scores(cols: OfferColumns, terms: tuple[QueryTerm, ...], mask: B) -> tuple[I64, I16]:
    """The offers of ``mask`` that every term matches in some field, and their relevance score (sum over terms
    of the best weight a term earned). The first term reads every offer; each next one only those still in."""
    if not terms:
        idx = np.flatnonzero(mask)
        return idx, np.zeros(idx.shape[0], dtype=np.int16)
    best = _term_best(cols, terms[0], None)
    idx = np.flatnonzero(mask & (best > 0))
    score = best.take(idx)
    for term in terms[1:]:
        best = _term_best(cols, term, idx)
        keep = np.flatnonzero(best)
        idx, score = idx.take(keep), score.take(keep) + best.take(keep)
    return idx, score


def matches_of(cols: OfferColumns, terms: tuple[QueryTerm, ...], idx: I64, score: I16) -> list[OfferMatch]:
    """Why each offer of ``idx`` (the few a page returns) matched: the fields where any term hit, and its score."""
    held: list[set[str]] = [set() for _ in range(idx.shape[0])]
    for term in terms:
        for src in _sources(cols, term):
            for j in np.flatnonzero(src.lut.take(cols.codes[src.col].take(idx))).tolist():
                held[j].add(src.field)
        for name, hit in _numbers(cols, term, idx):
            for j in np.flatnonzero(hit).tolist():
                held[j].add(name)
    return [
        OfferMatch(fields=[f for f in MATCH_FIELDS if f in fields], score=float(s))
        for fields, s in zip(held, score.tolist(), strict=True)
    ]


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat()


def _known_providers(query: OfferQuery, snapshots: SnapshotCache) -> frozenset[str]:
    """The providers of the snapshot a query reads: its cursor's (built-ins only if that one expired), else the
    latest."""
    cols = snapshots.get(Cursor.decode(query.cursor).v) if query.cursor else snapshots.current()
    return provider_names(cols.meta if cols is not None else None)


def search_offers(query: OfferQuery, *, snapshots: SnapshotCache) -> OfferPage:
    """A page of offers matching ``query`` with a cursor pinned to the snapshot it read: in the requested sort order,
    or, when ``q`` has words, by relevance first (``OfferOut.match`` says why each offer matched)."""
    interpreted = Interpretation(gpu=interpret_gpu_filter(tuple(g.strip() for g in query.gpu if g.strip()))[1])
    query = normalise_query(query, known_providers=_known_providers(query, snapshots))
    fhash = query.filter_hash()
    after = -1
    if query.cursor:
        cursor = Cursor.decode(query.cursor)
        if cursor.h != fhash:
            raise InvalidCursor("cursor belongs to another query (filters or sort changed)")
        cols = snapshots.get(cursor.v)
        if cols is None:
            raise CursorExpired("the snapshot this cursor walks has expired; start again without a cursor")
        after = cursor.r
    else:
        cols = snapshots.current()
    if after >= cols.n and cols.n:
        raise InvalidCursor("cursor points past the end of its snapshot")
    key, descending = query.sort.lstrip("-"), query.sort.startswith("-")
    mask = filter_mask(cols, query)
    terms = parse_query(query.q) if query.q else ()
    matches: list[OfferMatch | None]
    if terms:
        hits, score = text_scores(cols, terms, mask)  # hits ascending: a page's scores by binary search
        idx, total, last = cols.page_by_score(hits, key, descending, after, query.limit, score=score)
        matches = list(matches_of(cols, terms, idx, score.take(np.searchsorted(hits, idx))))
    else:
        idx, total, last = cols.page(mask, key, descending, after, query.limit)
        matches = [None] * idx.shape[0]
    items = []
    for i, match in zip(idx.tolist(), matches, strict=True):
        rec = cols.record(i)
        rec["as_of"] = _iso(rec["as_of"])
        rec["match"] = match
        items.append(OfferOut.model_validate(rec))
    version = str(cols.meta["version"])
    return OfferPage(
        items=items,
        count=total,
        next_cursor=Cursor(v=version, r=last, h=fhash).encode() if last is not None else None,
        snapshot_version=version,
        stale=any(i.stale for i in items),
        interpreted=interpreted,
    )


__all__ = [
    "SnapshotCache",
    "build_offer_columns",
    "filter_mask",
    "normalise_query",
    "resolve_gpu_filter",
    "search_offers",
    "text_scores",
]
