"""Offer search over the columnar snapshot: validated filters -> one mask -> a page in sort order.

Imports NumPy (through gpumath): only the functions that compute on columns import this module.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from gpubroker.domain.errors import CursorExpired, InvalidCursor, SnapshotMissing
from gpubroker.domain.regions import region_predicate
from gpubroker.domain.search import Cursor, OfferFilters, OfferOut, OfferPage, OfferQuery
from gpubroker.ports import SnapshotReader
from gpubroker.services.offer_filters import normalise_filters, resolve_gpu_filter
from gpumath.columns import OfferColumns


class SnapshotCache:
    """Keeps the latest snapshot (and a few pinned older ones) decoded in memory for a warm container.

    The manifest (a small object naming the latest version) is re-read at most every ``ttl_s`` seconds.
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
                self._latest = manifest["version"] if manifest else None
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
        with self._lock:
            self._loaded[version] = cols
            while len(self._loaded) > self._keep:
                self._loaded.popitem(last=False)
        return cols

    def current(self) -> OfferColumns:
        version = self.latest_version()
        cols = self.get(version)
        if cols is None:
            raise SnapshotMissing(f"snapshot {version} is listed but cannot be read")
        return cols


def normalise_query(query: OfferQuery) -> OfferQuery:
    """The query with canonical filter values (``services.offer_filters.normalise_filters``)."""
    return normalise_filters(query)


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


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat()


def search_offers(query: OfferQuery, *, snapshots: SnapshotCache) -> OfferPage:
    """A page of offers matching ``query``, in its sort order, with a cursor pinned to the snapshot it read."""
    query = normalise_query(query)
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
    key = query.sort.lstrip("-")
    mask = filter_mask(cols, query)
    if query.q:
        mask &= cols.text_match(query.q.split())
    idx, total, last = cols.page(mask, key, query.sort.startswith("-"), after, query.limit)
    items = []
    for i in idx:
        rec = cols.record(int(i))
        rec["as_of"] = _iso(rec["as_of"])
        items.append(OfferOut.model_validate(rec))
    version = str(cols.meta["version"])
    return OfferPage(
        items=items,
        count=total,
        next_cursor=Cursor(v=version, r=last, h=fhash).encode() if last is not None else None,
        snapshot_version=version,
        stale=any(i.stale for i in items),
    )


__all__ = ["SnapshotCache", "filter_mask", "normalise_query", "resolve_gpu_filter", "search_offers"]
