"""Interfaces the services depend on. Adapters implement them; tests pass in-memory fakes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from gpubroker.domain.gpus import GpuCatalog, GpuSpec
from gpubroker.domain.offers import Offer, RawOffer, RejectedRow


class Clock(Protocol):
    def now(self) -> datetime: ...


class OfferSource(Protocol):
    provider: str

    def rows(self) -> Iterator[RawOffer | RejectedRow]: ...


class OfferRepository(Protocol):
    def offers_of(self, provider: str) -> list[Offer]: ...

    def put_many(self, offers: Sequence[Offer]) -> None: ...

    def get(self, offer_id: str) -> Offer | None: ...


class PriceHistoryRepository(Protocol):
    def append(self, points: Sequence[Mapping[str, Any]]) -> None: ...


class SnapshotReader(Protocol):
    def manifest(self) -> dict[str, Any] | None: ...

    def load(self, version: str) -> bytes | None: ...


class SnapshotStore(SnapshotReader, Protocol):
    def put_part(self, provider: str, records: Sequence[Mapping[str, Any]]) -> None: ...

    def parts(self) -> dict[str, list[dict[str, Any]]]: ...

    def publish(self, version: str, data: bytes, manifest: Mapping[str, Any]) -> None: ...


class GpuCatalogRepository(Protocol):
    def version(self) -> str | None: ...

    def replace_all(self, catalog: GpuCatalog) -> None: ...

    def list_all(self) -> list[GpuSpec]: ...

    def get(self, model: str) -> GpuSpec | None: ...


class InteractionRepository(Protocol):
    """User x offer interactions (views, saves, bookings) for collaborative filtering."""

    def record(self, user_id: str, offer_id: str, kind: str, at: datetime) -> None: ...

    def history(self, user_id: str) -> dict[str, dict[str, int]]: ...

    def scan_all(self) -> Iterator[tuple[str, str, dict[str, int]]]: ...


class ModelStore(Protocol):
    """Trained model artifacts (bytes) under a name, with a small JSON manifest."""

    def save(self, name: str, data: bytes, manifest: Mapping[str, Any]) -> None: ...

    def load(self, name: str) -> bytes | None: ...


class PriceHistoryReader(Protocol):
    """Reads of the price-history table (points are the dicts ingestion appends)."""

    def offer_points(
        self, offer_id: str, *, since: str | None, until: str | None, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]: ...

    def gpu_points(self, gpu_model: str, *, days: int, prefix: str | None = None) -> list[dict[str, Any]]: ...
