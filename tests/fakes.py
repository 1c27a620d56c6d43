"""In-memory implementations of the ports (no mocks): what the services see in unit and component tests."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gpubroker.api.deps import AuditTrail, FrontDoor
from gpubroker.domain.gpus import GpuCatalog, GpuSpec
from gpubroker.domain.offers import Offer, RawOffer, RejectedRow, RunReport
from gpubroker.ports import OfferSource
from gpubroker.services.ingestion import run_ingestion

# Snapshot versions in the format ``services.ingestion.snapshot_version`` makes (a cursor naming another is refused).
V1 = "20261126T110000000000Z-0000000a"
V2 = "20261126T120000000000Z-0000000b"


@dataclass
class FixedClock:
    t: datetime = field(default_factory=lambda: datetime(2026, 11, 26, 12, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


@dataclass
class ListSource:
    provider: str
    items: list[RawOffer | RejectedRow]

    def rows(self) -> Iterator[RawOffer | RejectedRow]:
        return iter(self.items)


@dataclass
class FailingSource:
    provider: str
    error: Exception

    def rows(self) -> Iterator[RawOffer | RejectedRow]:
        raise self.error


@dataclass
class MemoryOfferRepository:
    items: dict[str, Offer] = field(default_factory=dict)
    writes: int = 0

    def offers_of(self, provider: str) -> list[Offer]:
        return [o for o in self.items.values() if o.provider == provider]

    def put_many(self, offers: Sequence[Offer]) -> None:
        for o in offers:
            self.items[o.offer_id] = o
            self.writes += 1

    def get(self, offer_id: str) -> Offer | None:
        return self.items.get(offer_id)


@dataclass
class MemoryPriceHistory:
    points: list[dict[str, Any]] = field(default_factory=list)

    def append(self, points: Sequence[Mapping[str, Any]]) -> None:
        self.points.extend(dict(p) for p in points)

    def offer_points(
        self, offer_id: str, *, since: str | None, until: str | None, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        rows = sorted((p for p in self.points if p["offer_id"] == offer_id), key=lambda p: p["ts"])
        rows = [p for p in rows if (not since or p["ts"] >= since) and (not until or p["ts"] <= until)]
        rows = [p for p in rows if not after or p["ts"] > after]
        page = rows[:limit]
        return page, (page[-1]["ts"] if len(rows) > limit else None)

    def gpu_points(self, gpu_model: str, *, days: int, prefix: str | None = None) -> list[dict[str, Any]]:
        rows = [p for p in self.points if p["gpu_model"] == gpu_model and p["offer_id"].startswith(prefix or "")]
        if not rows:
            return []
        newest = max(datetime.fromisoformat(p["ts"]) for p in rows)
        return [p for p in rows if datetime.fromisoformat(p["ts"]) >= newest - timedelta(days=days)]


@dataclass
class MemorySnapshotStore:
    part_data: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    registry: dict[str, dict[str, Any]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    latest: dict[str, Any] | None = None
    manifest_reads: int = 0

    def manifest(self) -> dict[str, Any] | None:
        self.manifest_reads += 1
        return copy.deepcopy(self.latest)

    def load(self, version: str) -> bytes | None:
        return self.blobs.get(version)

    def put_part(self, provider: str, records: Sequence[Mapping[str, Any]]) -> None:
        self.part_data[provider] = [dict(r) for r in records]

    def parts(self) -> dict[str, list[dict[str, Any]]]:
        return copy.deepcopy(self.part_data)

    def register(self, provider: str, info: Mapping[str, Any]) -> None:
        self.registry[provider] = dict(info)

    def registrations(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self.registry)

    def remove(self, provider: str) -> None:
        self.part_data.pop(provider, None)
        self.registry.pop(provider, None)

    def publish(self, version: str, data: bytes, manifest: Mapping[str, Any]) -> None:
        self.blobs[version] = data
        self.latest = dict(manifest)

    def expire(self, version: str) -> None:
        self.blobs.pop(version, None)


@dataclass
class MemoryGpuCatalog:
    specs: dict[str, GpuSpec] = field(default_factory=dict)
    stored_version: str | None = None

    def version(self) -> str | None:
        return self.stored_version

    def replace_all(self, catalog: GpuCatalog) -> None:
        self.specs = {g.model: g for g in catalog.gpus}
        self.stored_version = catalog.version

    def list_all(self) -> list[GpuSpec]:
        return list(self.specs.values())

    def get(self, model: str) -> GpuSpec | None:
        return self.specs.get(model)


class World:
    """Every port in memory, and ingestion runs through them (what the services see in unit/component tests)."""

    def __init__(self) -> None:
        self.offers = MemoryOfferRepository()
        self.history = MemoryPriceHistory()
        self.snapshots = MemorySnapshotStore()
        self.catalog = MemoryGpuCatalog()
        self.clock = FixedClock()

    def run(self, source: OfferSource, registration: Mapping[str, Any] | None = None) -> RunReport:
        return run_ingestion(
            source,
            offers=self.offers,
            history=self.history,
            snapshots=self.snapshots,
            catalog=self.catalog,
            clock=self.clock,
            registration=registration,
        )


@dataclass
class MemoryInteractions:
    items: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)

    def record(self, user_id: str, offer_id: str, kind: str, at: datetime) -> None:
        counts = self.items.setdefault((user_id, offer_id), {"view": 0, "save": 0, "book": 0})
        counts[kind] += 1

    def history(self, user_id: str) -> dict[str, dict[str, int]]:
        return {o: dict(c) for (u, o), c in self.items.items() if u == user_id}

    def scan_all(self) -> Iterator[tuple[str, str, dict[str, int]]]:
        for (u, o), c in sorted(self.items.items()):
            yield u, o, dict(c)


@dataclass
class MemoryModelStore:
    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)

    def save(self, name: str, data: bytes, manifest: Mapping[str, Any]) -> None:
        self.blobs[name] = data
        self.manifests[name] = dict(manifest)

    def load(self, name: str) -> bytes | None:
        return self.blobs.get(name)


class Unlimited:
    """A RateLimiter that allows everything: handler tests are about the handler, not the plan limits (those
    have their own tests: tests/unit/test_ratelimit.py, tests/integration/test_ratelimit_redis.py, e2e)."""

    def check(self, principal: str, limit: int, window_s: float = 1.0) -> Any:
        from gpubroker.domain.plans import Decision

        return Decision(allowed=True, limit=limit, remaining=limit - 1, reset_s=window_s, retry_after_s=0)


UNLIMITED = FrontDoor(limiter=Unlimited())
"""The front door of in-process handler tests: every request allowed, no token check."""


def trail(log: Any = None, spool: Any = None) -> AuditTrail:
    """An audit trail of in-memory fakes (a fresh log and spool unless given)."""
    from tests.fakes_audit import MemoryAuditLog, MemorySpool

    return AuditTrail(log=MemoryAuditLog() if log is None else log, spool=MemorySpool() if spool is None else spool)
