"""Provider administration: removing a catalog-only provider, through the snapshot's one writer."""

from __future__ import annotations

from gpubroker.domain.errors import BuiltinProvider
from gpubroker.domain.providers import PROVIDERS, ProviderRemoval
from gpubroker.ports import IngestionRunner


def request_removal(name: str, *, ingestion: IngestionRunner) -> ProviderRemoval:
    """Ask the ingestion function to remove catalog-only provider ``name`` and wait for its answer (it marks the
    provider's offers unavailable, drops it from the registry and republishes the snapshot without it). A built-in
    is refused here, without a call; an unknown name comes back as the function's ``ProviderNotFound``."""
    if name in PROVIDERS:
        raise BuiltinProvider(f"{name!r} is a built-in provider and cannot be removed", details={"provider": name})
    return ProviderRemoval.model_validate(ingestion.run({"provider": name, "action": "remove"}))
