"""DELETE /providers/{name} (admins only): remove a catalog-only provider. Its offers are marked unavailable and
the snapshot is republished without it, by the ingestion function (the snapshot's one writer), which this route
asks and waits for. A built-in provider is a 409; an unknown one a 404. Audited as ``provider.remove``."""

from __future__ import annotations

from gpubroker.api.audit import audit_middleware
from gpubroker.api.identity import require_role
from gpubroker.api.params import ProviderNamePath
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import ProviderAdminSettings
from gpubroker.domain.providers import ProviderRemoval
from gpubroker.services.providers import request_removal
from gpubroker.wiring.offers import ProviderAdminDeps, provider_admin_deps

Settings = ProviderAdminSettings
Deps = ProviderAdminDeps
app = new_resolver()
app.use([audit_middleware(action="provider.remove")])


@app.delete("/providers/<name>", responses=responses(ProviderRemoval, 401, 403, 404, 409, 503))
def remove(name: ProviderNamePath) -> ProviderRemoval:
    require_role(app, "admin")
    app.append_context(audit_resource=f"provider/{name}")
    return request_removal(name, ingestion=app.context["deps"].ingestion)


lambda_handler = api_handler(app, provider_admin_deps)
