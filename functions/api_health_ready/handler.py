"""GET /health/ready: readiness (a published offer snapshot: searches can answer), apart from GET /health's
liveness. 503 ``not_ready`` until the first snapshot is published (see domain/readiness.py)."""

from __future__ import annotations

from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import SnapshotSettings
from gpubroker.domain.readiness import Readiness
from gpubroker.services.catalog import readiness
from gpubroker.wiring.offers import ReadinessDeps, readiness_deps

Settings = SnapshotSettings
Deps = ReadinessDeps
app = new_resolver()


@app.get("/health/ready", responses=responses(Readiness, 503))
def ready() -> Readiness:
    deps: Deps = app.context["deps"]
    return readiness(snapshots=deps.snapshots, ttl_s=deps.ttl_s)


lambda_handler = api_handler(app, readiness_deps)
