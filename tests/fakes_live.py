"""In-memory twins of the live prices' ports: the connections table, the @connections API, the price feed, the
fan-out queue; and a builder of offer images and of a published snapshot."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gpubroker.domain.providers import COMPLIANCE_TAGS
from gpubroker.domain.search import OfferFilters
from gpubroker.domain.subscriptions import FeedEntry, OfferChange, SeenConnection, canonical_json, epoch_ms, sub_key
from tests.fakes import MemorySnapshotStore


@dataclass
class MemoryConnections:
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    queried: list[str] = field(default_factory=list)

    def connect(self, connection_id: str, *, at: datetime, user_id: str | None) -> None:
        self.items[connection_id] = {"connected_at": at, "last_seen": epoch_ms(at)}
        if user_id:
            self.items[connection_id]["user_id"] = user_id

    def subscribe(self, connection_id: str, filters: OfferFilters, *, at: datetime) -> None:
        self.items.setdefault(connection_id, {}).update(filters=canonical_json(filters), sub_key=sub_key(filters),
                                                        last_seen=epoch_ms(at))  # fmt: skip

    def touch(self, connection_id: str, *, at: datetime) -> bool:
        if connection_id not in self.items:
            return False
        self.items[connection_id]["last_seen"] = epoch_ms(at)
        return True

    def seen_before(self, cutoff: datetime) -> list[SeenConnection]:
        return [SeenConnection(cid, i.get("last_seen"), i.get("connected_at")) for cid, i in sorted(self.items.items())
                if i.get("last_seen") is None or i["last_seen"] < epoch_ms(cutoff)]  # fmt: skip

    def delete_silent(self, connection_id: str, *, cutoff: datetime) -> bool:
        item = self.items.get(connection_id)
        if item is None or (item.get("last_seen") is not None and item["last_seen"] >= epoch_ms(cutoff)):
            return False
        del self.items[connection_id]
        return True

    def delete(self, connection_id: str) -> None:
        self.items.pop(connection_id, None)

    def subscribers(self, keys: Iterable[str]) -> list[tuple[str, str]]:
        wanted = set(keys)
        self.queried += sorted(wanted)
        return [(cid, i["filters"]) for cid, i in sorted(self.items.items()) if i.get("sub_key") in wanted]


@dataclass
class MemoryPoster:
    gone: set[str] = field(default_factory=set)
    sent: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    frames: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fail: set[str] = field(default_factory=set)  # these raise (a throttle, a 5xx)

    def post(self, connection_id: str, data: bytes) -> bool:
        if connection_id in self.fail:
            raise RuntimeError("LimitExceededException")
        if connection_id in self.gone:
            return False
        frame = json.loads(data)
        self.frames.setdefault(connection_id, []).append(frame)
        unpacked = frame["messages"] if frame.get("type") == "batch" else [frame]
        self.sent.setdefault(connection_id, []).extend(unpacked)
        return True

    def changes(self, connection_id: str) -> list[tuple[Any, ...]]:
        """(type, seq, offer_id, old_price, new_price or reason) of the change messages one connection got."""
        return [
            (m["type"], m["seq"], m["offer_id"], m["old_price"], m.get("new_price", m.get("reason")))
            for m in self.sent.get(connection_id, [])
            if m["type"] in {"price", "removed"}
        ]


@dataclass
class MemoryCloser:
    """The @connections DELETE: ``open`` sockets close (recorded in ``closed``); any other id is gone (410)."""

    open: set[str] = field(default_factory=set)
    closed: list[str] = field(default_factory=list)

    def close(self, connection_id: str) -> bool:
        if connection_id not in self.open:
            return False
        self.open.discard(connection_id)
        self.closed.append(connection_id)
        return True


@dataclass
class MemoryFeed:
    entries: list[FeedEntry] = field(default_factory=list)
    head_seq: int = 0

    def append(self, changes: Sequence[OfferChange], *, at: datetime) -> int:
        first = self.head_seq + 1
        self.head_seq += len(changes)
        self.entries.append(FeedEntry(first=first, at=at, changes=tuple(changes)))
        return first

    def head(self) -> int:
        return self.head_seq

    def entry_at(self, seq: int) -> FeedEntry | None:
        return next((e for e in self.entries if e.first <= seq <= e.last), None)

    def since(self, at: datetime) -> list[FeedEntry]:
        out: list[FeedEntry] = []
        for entry in reversed(self.entries):
            if entry.at < at:
                break
            out.append(entry)
        return out[::-1]

    def after(self, seq: int) -> list[FeedEntry]:
        return [e for e in self.entries if e.last > seq]


@dataclass
class MemoryFanout:
    sent: list[str] = field(default_factory=list)

    def send(self, bodies: Sequence[str]) -> None:
        self.sent.extend(bodies)


def offer(offer_id: str, price_per_gpu_hour: float, **kw: Any) -> dict[str, Any]:
    """An offer image as the offers table stores it (``Offer.model_dump(mode="json")``, None fields dropped)."""
    count = int(kw.pop("gpu_count", 8))
    base: dict[str, Any] = {
        "offer_id": offer_id,
        "provider": "runpod",
        "instance_type": "8x H100 SXM",
        "gpu_model": "H100-SXM",
        "gpu_vendor": "NVIDIA",
        "gpu_memory_gb": 80.0,
        "gpu_count": count,
        "vcpus": 128.0,
        "region": "US",
        "price_per_hour": round(price_per_gpu_hour * count, 6),
        "price_per_gpu_hour": price_per_gpu_hour,
        "available": True,
        "compliance": [],
        "as_of": "2026-11-26T08:00:00+00:00",
        "stale": False,
        "source": "skypilot",
    }
    return {**base, **kw}


def publish(store: MemorySnapshotStore, records: list[dict[str, Any]], version: str, created_at: str) -> None:
    """Publish ``records`` as the latest columnar snapshot (what ingestion's ``publish_snapshot`` does)."""
    from gpumath.columns import OfferColumns

    manifest = {"version": version, "created_at": created_at, "count": len(records)}
    full = [{"form_factor": None, "ram_gb": None, "spot_price_per_hour": None, **r} for r in records]
    cols = OfferColumns.from_records(full, compliance_vocab=COMPLIANCE_TAGS, meta=manifest)
    store.publish(version, cols.to_bytes(), manifest)
