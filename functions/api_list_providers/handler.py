"""GET /providers: every provider GPUBroker knows, with its offer counts and freshness."""

from __future__ import annotations

from gpubroker.api.catalog_models import ProviderList
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import SnapshotSettings
from gpubroker.services.catalog import list_providers
from gpubroker.wiring.offers import ProvidersDeps, providers_deps

Settings = SnapshotSettings
Deps = ProvidersDeps
app = new_resolver()


@app.get("/providers", responses=responses(ProviderList, 503))
def providers() -> ProviderList:
    return ProviderList(items=list_providers(snapshots=app.context["deps"].snapshots))


lambda_handler = api_handler(app, providers_deps)
