"""GET /providers: every provider GPUBroker knows, with its offer counts and freshness."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from gpubroker.adapters.s3_snapshots import S3SnapshotStore
from gpubroker.api.catalog_models import ProviderList
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import SnapshotSettings, load_settings
from gpubroker.ports import SnapshotReader
from gpubroker.services.catalog import list_providers

Settings = SnapshotSettings
app = new_resolver()


@dataclass(frozen=True)
class Deps:
    snapshots: SnapshotReader


@cache
def default_deps() -> Deps:
    return Deps(snapshots=S3SnapshotStore(load_settings(SnapshotSettings).SNAPSHOT_BUCKET))


@app.get("/providers", responses=responses(ProviderList, 503))
def providers() -> ProviderList:
    return ProviderList(items=list_providers(snapshots=app.context["deps"].snapshots))


lambda_handler = api_handler(app, default_deps)
