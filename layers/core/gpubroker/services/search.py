"""Offer search over the columnar snapshot: validated filters -> one mask -> a page in sort order.

Imports NumPy (through gpumath): only the functions that compute on columns import this module.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

import numpy as np

from gpubroker.domain.errors import CursorExpired, InvalidCursor, SnapshotMissing, ValidationFailed
from gpubroker.domain.gpus import UnknownGpu, bundled_catalog, canonical_gpu
from gpubroker.domain.providers import COMPLIANCE_TAGS, PROVIDERS, known_provider, provider_names
from gpubroker.domain.search import Cursor, OfferOut, OfferPage, OfferQuery
from gpubroker.ports import SnapshotReader
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


def resolve_gpu_filter(names: tuple[str, ...]) -> list[str]:
    """Accept any spelling a user types (``A6000``, ``h100 sxm``); unknown names are a 422, not an empty page."""
    known = bundled_catalog().by_model()
    out: list[str] = []
    for name in names:
        if name in known:
            out.append(name)
            continue
        try:
            out.append(canonical_gpu(name))
        except UnknownGpu:
            matches = [m for m in known if m.casefold() == name.casefold()]
            if not matches:
                raise ValidationFailed(
                    f"unknown GPU model {name!r}", details={"parameter": "gpu", "known": sorted(known)}
                ) from None
            out.extend(matches)
    return out


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    """Lists come as repeated parameters (OpenAPI ``form``, ``explode: true``); blanks are ignored."""
    return tuple(v.strip() for v in values if v.strip())


def resolve_provider_filter(names: tuple[str, ...], known: Collection[str]) -> list[str]:
    """Provider names, case-insensitive, each a provider of the snapshot's registry (``known``); else a 422."""
    out = []
    for name in names:
        try:
            out.append(known_provider(name.casefold(), known))
        except ValueError as exc:
            raise ValidationFailed(str(exc), details={"parameter": "provider", "known": sorted(known)}) from None
    return out


def normalise_query(query: OfferQuery, *, known_providers: Collection[str] = PROVIDERS) -> OfferQuery:
    """``known_providers``: the providers of the snapshot searched (``provider_names(manifest)``)."""
    gpus = tuple(resolve_gpu_filter(_split(query.gpu)))
    providers = tuple(resolve_provider_filter(_split(query.provider), known_providers))
    tags = _split(query.compliance)
    bad = [t for t in tags if t not in COMPLIANCE_TAGS]
    if bad:
        raise ValidationFailed(
            f"unknown compliance tag {bad[0]!r}",
            details={"parameter": "compliance", "known": list(COMPLIANCE_TAGS)},
        )
    return query.model_copy(
        update={
            "gpu": tuple(sorted(set(gpus))),
            "provider": tuple(sorted(set(providers))),
            "region": _split(query.region),
            "compliance": tuple(sorted(set(tags))),
        }
    )


def filter_mask(cols: OfferColumns, query: OfferQuery) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """One boolean mask for every filter of an already normalised query."""
    mask = np.ones(cols.n, dtype=np.bool_)
    if query.gpu:
        mask &= cols.in_values("gpu_model", query.gpu)
    if query.provider:
        mask &= cols.in_values("provider", query.provider)
    if query.region:
        mask &= cols.in_values_casefold("region", query.region)
    if query.compliance:
        mask &= cols.compliance_mask(query.compliance)
    if query.min_gpu_memory_gb is not None:
        mask &= cols.range_mask("gpu_memory_gb", query.min_gpu_memory_gb, None)
    if query.min_price_per_hour is not None or query.max_price_per_hour is not None:
        mask &= cols.range_mask("price_per_hour", query.min_price_per_hour, query.max_price_per_hour)
    if query.min_price_per_gpu_hour is not None or query.max_price_per_gpu_hour is not None:
        mask &= cols.range_mask("price_per_gpu_hour", query.min_price_per_gpu_hour, query.max_price_per_gpu_hour)
    if query.available is not None:
        mask &= cols.bools["available"] == query.available
    if query.tokens:
        mask &= cols.text_match(query.tokens)
    return mask


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat()


def _known_providers(query: OfferQuery, snapshots: SnapshotCache) -> frozenset[str]:
    """The providers of the snapshot a query reads: its cursor's (built-ins only if that one expired), else the
    latest."""
    cols = snapshots.get(Cursor.decode(query.cursor).v) if query.cursor else snapshots.current()
    return provider_names(cols.meta if cols is not None else None)


def search_offers(query: OfferQuery, *, snapshots: SnapshotCache) -> OfferPage:
    """A page of offers matching ``query``, in its sort order, with a cursor pinned to the snapshot it read."""
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
    key = query.sort.lstrip("-")
    idx, total, last = cols.page(filter_mask(cols, query), key, query.sort.startswith("-"), after, query.limit)
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
