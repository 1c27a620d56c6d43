"""GPU catalog and offer lookups (point reads, no column work, no NumPy)."""

from __future__ import annotations

from gpubroker.domain.errors import GpuNotFound, NotReady, OfferNotFound, SnapshotMissing
from gpubroker.domain.gpus import GpuSpec, UnknownGpu, canonical_gpu, gpu_models_for
from gpubroker.domain.offers import Offer
from gpubroker.domain.providers import PROVIDERS, ProviderOut, registered
from gpubroker.domain.readiness import Readiness
from gpubroker.ports import GpuCatalogRepository, OfferRepository, SnapshotReader


def list_gpus(*, catalog: GpuCatalogRepository) -> list[GpuSpec]:
    return sorted(catalog.list_all(), key=lambda g: g.model)


def get_gpu(model: str, *, catalog: GpuCatalogRepository) -> GpuSpec:
    """By canonical id or any known spelling (``A6000`` finds ``RTX-A6000``). A spelling of several GPUs
    (``H100``: SXM, PCIe, NVL) is a 404 whose details name the candidates."""
    spec = catalog.get(model)
    if spec is not None:
        return spec
    try:
        spec = catalog.get(canonical_gpu(model))
    except UnknownGpu as exc:
        if exc.candidates:
            candidates = list(gpu_models_for(model))  # every variant the spelling names, as /offers?gpu= matches
            raise GpuNotFound(
                f"{model!r} names several GPU models: {', '.join(candidates)}", details={"candidates": candidates}
            ) from None
        spec = None
    if spec is None:
        raise GpuNotFound(f"no GPU model {model!r} in the catalog")
    return spec


def get_offer(offer_id: str, *, offers: OfferRepository, snapshots: SnapshotReader) -> Offer:
    """The stored offer; ``as_of``/``stale`` come from its provider's last run when the offer is live."""
    offer = offers.get(offer_id)
    if offer is None:
        raise OfferNotFound(f"no offer {offer_id!r}")
    manifest = snapshots.manifest() or {}
    info = manifest.get("providers", {}).get(offer.provider)
    if offer.available and info and info.get("as_of"):
        from datetime import datetime

        confirmed = datetime.fromisoformat(info["as_of"])
        if confirmed > offer.as_of:
            offer = offer.model_copy(update={"as_of": confirmed})
        offer = offer.model_copy(update={"stale": bool(info.get("stale"))})
    return offer


def list_providers(*, snapshots: SnapshotReader) -> list[ProviderOut]:
    """Every known provider (the built-ins and the catalog-only ones the latest snapshot registers) with what the
    snapshot holds for it."""
    manifest = snapshots.manifest()
    if manifest is None:
        raise SnapshotMissing("no offer snapshot has been published yet; run ingestion first")
    stats = manifest.get("providers", {})
    out = []
    for name, p in sorted({**PROVIDERS, **registered(manifest)}.items()):
        s = stats.get(name, {})
        out.append(
            ProviderOut(
                name=name,
                display_name=p.display_name,
                website=p.website,
                marketplace=p.marketplace,
                builtin=p.builtin,
                offers=int(s.get("offers", 0)),
                available_offers=int(s.get("available", 0)),
                as_of=s.get("as_of"),
                stale=bool(s.get("stale", False)),
            )
        )
    return out


def readiness(*, snapshots: SnapshotReader, ttl_s: float) -> Readiness:
    """Whether searches can answer: a published snapshot (``NotReady``, a 503, until the first one)."""
    manifest = snapshots.manifest()
    if manifest is None:
        raise NotReady("no offer snapshot has been published yet (ingestion or seeding has not finished)")
    return Readiness(
        snapshot_version=manifest["version"],
        created_at=manifest["created_at"],
        offers=int(manifest.get("count", 0)),
        providers=len(manifest.get("providers", {})),
        stale=bool(manifest.get("stale", False)),
        searchable_within_s=ttl_s,
    )
