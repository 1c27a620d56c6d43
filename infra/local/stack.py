"""The local stack: moto in server mode + the template's resources + the real handlers behind an HTTP front."""

from __future__ import annotations

import importlib
import logging
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from infra.local.http_front import make_server
from infra.local.provision import function_environment, provision
from infra.local.runtime import Runtime
from infra.local.template import ROOT, App, read_app

# what Lambda puts on sys.path from the layers (/opt/python) and the function folder (/var/task)
for _layer in ("layers/core", "layers/math"):
    if str(ROOT / _layer) not in sys.path:
        sys.path.insert(0, str(ROOT / _layer))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# settings the developer's environment may override over the template's (log noise, tracing, cache TTLs)
LOCAL_OVERRIDES = (
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_TRACE_DISABLED",
    "POWERTOOLS_METRICS_DISABLED",
    "SNAPSHOT_TTL_SECONDS",
)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def build_openapi(runtime: Runtime) -> dict[str, Any]:
    from gpubroker.api.openapi import merge_openapi

    apps = []
    for lid in sorted({r.function for r in runtime.app.routes}):
        module = runtime.module(lid)
        apps.append(module.app)
    return merge_openapi(apps, title="GPUBroker API", version="0.1.0")


def ingestion_targets(app: App) -> dict[str, Any]:
    """Schedules whose input names a provider and a catalog: provider -> (function, input)."""
    return {s.input["provider"]: s for s in app.schedules if "provider" in s.input and "catalog" in s.input}


class LocalStack:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        moto_port: int = 0,
        prefix: str = "gpubroker-local",
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.moto_port = moto_port or free_port(host)
        self.prefix = prefix
        self.app = read_app()
        self.runtime = Runtime(self.app)
        self.names: dict[str, str] = {}
        self._moto: Any = None
        self._http: Any = None

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.host}:{self.moto_port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.moto_port, verbose=False)
        self._moto.start()
        os.environ["AWS_ENDPOINT_URL"] = self.aws_endpoint
        os.environ["MOTO_PORT"] = str(self.moto_port)
        self.names = provision(self.app, self.prefix, endpoint_url=self.aws_endpoint)
        local_overrides = {k: os.environ[k] for k in LOCAL_OVERRIDES if k in os.environ}
        os.environ.update(function_environment(self.app, self.names))
        os.environ.update(local_overrides)
        importlib.invalidate_caches()
        self._http = make_server(self.host, self.port, self.runtime, build_openapi(self.runtime))
        threading.Thread(target=self._http.serve_forever, name="http-front", daemon=True).start()

    def seed(self, catalogs: Path) -> list[dict[str, Any]]:
        """Run the real ingestion function over every catalog in ``catalogs/<provider>/vms.csv``."""
        targets = ingestion_targets(self.app)
        if not targets:
            raise RuntimeError("template.yaml has no schedule with a provider/catalog input to seed from")
        default_fn = next(iter(targets.values())).function
        reports = []
        for csv in sorted(catalogs.glob("*/vms.csv")):
            provider = csv.parent.name
            target = targets.get(provider)
            fn = target.function if target else default_fn
            event = {**(target.input if target else {"provider": provider}), "catalog": str(csv)}
            reports.append(self.runtime.invoke(fn, event))
        return reports

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._moto is not None:
            self._moto.stop()
