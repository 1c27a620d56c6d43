"""Ingestion: source -> normalise -> diff -> write changes + history -> publish the columnar snapshot."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gpubroker.domain.breaker import BreakerOpen
from gpubroker.domain.errors import BuiltinProvider, ProviderNotFound, SourceError
from gpubroker.domain.gpus import GpuCatalog, bundled_catalog
from gpubroker.domain.offers import Offer, RejectedRow, RunReport, normalise
from gpubroker.domain.providers import COMPLIANCE_TAGS, PROVIDERS, Provider, ProviderRemoval, default_display_name
from gpubroker.ports import (
    Clock,
    GpuCatalogRepository,
    OfferRepository,
    OfferSource,
    PriceHistoryRepository,
    SnapshotStore,
)
from gpumath.columns import OfferColumns


def sync_gpu_catalog(*, repo: GpuCatalogRepository, catalog: GpuCatalog | None = None) -> bool:
    """Write the bundled GPU catalog when the stored one is of another version. Returns True if written."""
    catalog = catalog or bundled_catalog()
    if repo.version() == catalog.version:
        return False
    repo.replace_all(catalog)
    return True


def _price_point(offer: Offer) -> dict[str, Any]:
    return {
        "offer_id": offer.offer_id,
        "ts": offer.as_of.isoformat(),
        "provider": offer.provider,
        "gpu_model": offer.gpu_model,
        "gpu_count": offer.gpu_count,
        "price_per_hour": offer.price_per_hour,
        "price_per_gpu_hour": offer.price_per_gpu_hour,
        "spot_price_per_hour": offer.spot_price_per_hour,
        "available": offer.available,
    }


def _price_changed(old: Offer | None, new: Offer) -> bool:
    return (
        old is None
        or old.price_per_hour != new.price_per_hour
        or old.spot_price_per_hour != new.spot_price_per_hour
        or old.available != new.available
    )


def snapshot_version(as_of: datetime, records: list[dict[str, Any]]) -> str:
    digest = hashlib.sha256(repr(sorted((r["offer_id"], r["price_per_hour"]) for r in records)).encode())
    return f"{as_of.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{digest.hexdigest()[:8]}"


def publish_snapshot(*, snapshots: SnapshotStore, as_of: datetime) -> str:
    """Combine every provider's part into one columnar snapshot and make it the latest."""
    parts = snapshots.parts()
    records = [r for provider in sorted(parts) for r in parts[provider]]
    records.sort(key=lambda r: r["offer_id"])
    version = snapshot_version(as_of, records)
    providers: dict[str, Any] = {}
    for provider, rows in sorted(parts.items()):
        providers[provider] = {
            "offers": len(rows),
            "available": sum(1 for r in rows if r["available"]),
            "as_of": max((r["as_of"] for r in rows if r["available"]), default=None),
            "stale": any(r["stale"] for r in rows),
        }
    manifest = {
        "version": version,
        "created_at": as_of.astimezone(UTC).isoformat(),
        "count": len(records),
        "providers": providers,
        "stale": any(p["stale"] for p in providers.values()),
        # the catalog-only providers (domain.providers.registered reads it back)
        "registry": {name: info for name, info in sorted(snapshots.registrations().items()) if name not in PROVIDERS},
    }
    columns = OfferColumns.from_records(records, compliance_vocab=COMPLIANCE_TAGS, meta=manifest)
    snapshots.publish(version, columns.to_bytes(), manifest)
    return version


def register_provider(provider: str, given: Mapping[str, Any], *, snapshots: SnapshotStore) -> None:
    """Register (or update) a catalog-only provider: the fields ``given`` over what is registered, over the
    defaults (the name capitalised, no website, not a marketplace). Built-ins are not registered."""
    if provider in PROVIDERS:
        return
    stored = snapshots.registrations().get(provider, {})
    if stored and not given:
        return
    info = {"display_name": default_display_name(provider), "website": None, "marketplace": False, **stored, **given}
    entry = Provider.model_validate({**info, "name": provider})
    snapshots.register(provider, entry.model_dump(include={"display_name", "website", "marketplace"}))


def run_ingestion(
    source: OfferSource,
    *,
    offers: OfferRepository,
    history: PriceHistoryRepository,
    snapshots: SnapshotStore,
    catalog: GpuCatalogRepository,
    clock: Clock,
    registration: Mapping[str, Any] | None = None,
) -> RunReport:
    """One provider's run. The source is read in full before any write.

    When the source fails (its API is down, or its breaker is open) nothing is removed: the provider's last good
    offers stay in the snapshot, flagged ``stale`` with their ``as_of``, and the report says ``failed`` (or
    ``skipped`` with ``skipped: breaker_open`` when the breaker was open before the run made any call); a provider
    that was not known yet is not registered.

    A provider that is not built in becomes (or stays) a catalog-only provider: ``registration`` (display name,
    website, marketplace) over what it was registered with (see :func:`register_provider`).
    """
    provider = source.provider
    try:
        rows = list(source.rows())
    except SourceError as exc:
        return _degrade(provider, exc, snapshots=snapshots, clock=clock)
    register_provider(provider, registration or {}, snapshots=snapshots)
    sync_gpu_catalog(repo=catalog)
    specs = bundled_catalog().by_model()
    as_of = clock.now()
    report = RunReport(provider=provider)

    fresh: dict[str, Offer] = {}
    for row in rows:
        if isinstance(row, RejectedRow):
            report.reject(row.reason, row.raw_gpu)
            continue
        try:
            offer = normalise(row, as_of=as_of, specs=specs)
        except RejectedRow as rejected:
            report.reject(rejected.reason, rejected.raw_gpu)
            continue
        if offer.offer_id in fresh:
            report.reject("duplicate")
            continue
        fresh[offer.offer_id] = offer
    for offer in fresh.values():
        if specs[offer.gpu_model].board_unstated:
            report.board_unstated(offer.gpu_model)
    report.accepted = len(fresh)

    existing = {o.offer_id: o for o in offers.offers_of(provider)}
    to_write: list[Offer] = []
    points: list[dict[str, Any]] = []
    for oid, offer in fresh.items():
        old = existing.get(oid)
        if old is None or old.content_hash() != offer.content_hash() or not old.available or old.stale:
            to_write.append(offer)
            if _price_changed(old, offer):
                points.append(_price_point(offer))
        else:
            report.unchanged += 1
    vanished = [
        o.model_copy(update={"available": False, "stale": False})
        for oid, o in existing.items()
        if oid not in fresh and o.available
    ]
    points.extend(_price_point(o.model_copy(update={"as_of": as_of})) for o in vanished)

    offers.put_many([*to_write, *vanished])
    history.append(points)
    report.written = len(to_write)
    report.marked_unavailable = len(vanished)
    report.history_points = len(points)

    gone = [
        o.model_copy(update={"available": False, "stale": False}) for oid, o in existing.items() if oid not in fresh
    ]
    part = [o.model_dump(mode="json") for o in [*fresh.values(), *gone]]
    snapshots.put_part(provider, part)
    report.snapshot_version = publish_snapshot(snapshots=snapshots, as_of=as_of)
    return report


def _degrade(provider: str, exc: SourceError, *, snapshots: SnapshotStore, clock: Clock) -> RunReport:
    """Keep the provider's last good offers, flagged stale, and republish the snapshot."""
    report = RunReport(provider=provider, status="failed", error=f"{type(exc).__name__}: {exc.message}")
    if isinstance(exc, BreakerOpen):  # open before this run sent anything: nothing was tried
        report.status, report.skipped = "skipped", "breaker_open"
    part = snapshots.parts().get(provider)
    if part:
        stale = [{**record, "stale": bool(record["available"]) or bool(record.get("stale"))} for record in part]
        snapshots.put_part(provider, stale)
        report.stale_offers = sum(1 for r in stale if r["stale"])
        report.snapshot_version = publish_snapshot(snapshots=snapshots, as_of=clock.now())
    return report


def remove_provider(
    provider: str, *, offers: OfferRepository, history: PriceHistoryRepository, snapshots: SnapshotStore, clock: Clock
) -> ProviderRemoval:
    """Take a catalog-only provider out: its live offers are marked unavailable (a history point each, and the
    offers table's stream tells subscribers), its part and registration are deleted, and the snapshot is
    republished without it. A built-in provider is refused (its schedule would bring it back); an unknown one
    is a ``ProviderNotFound``."""
    if provider in PROVIDERS:
        raise BuiltinProvider(
            f"{provider!r} is a built-in provider and cannot be removed", details={"provider": provider}
        )
    if provider not in snapshots.registrations() and provider not in snapshots.parts():
        raise ProviderNotFound(f"no catalog-only provider {provider!r}", details={"provider": provider})
    now = clock.now()
    gone = [
        o.model_copy(update={"available": False, "stale": False}) for o in offers.offers_of(provider) if o.available
    ]
    offers.put_many(gone)
    history.append([_price_point(o.model_copy(update={"as_of": now})) for o in gone])
    snapshots.remove(provider)
    version = publish_snapshot(snapshots=snapshots, as_of=now)
    return ProviderRemoval(provider=provider, marked_unavailable=len(gone), snapshot_version=version)
