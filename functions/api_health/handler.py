"""GET /health: liveness of the API (no dependencies touched); readiness is GET /health/ready."""

from __future__ import annotations

import os

from gpubroker.api.deps import ApiDeps
from gpubroker.api.models import Health
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import NoSettings
from gpubroker.wiring.edge import bare_deps

Settings = NoSettings
Deps = ApiDeps
app = new_resolver()


@app.get("/health", responses=responses(Health))
def health() -> Health:
    return Health(status="ok", service=os.environ.get("POWERTOOLS_SERVICE_NAME", "gpubroker"))


lambda_handler = api_handler(app, bare_deps)
