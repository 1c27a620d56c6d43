"""Test environment: fake AWS credentials and quiet Powertools set before anything imports boto3 or Powertools."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CATALOGS = SHARED / "data" / "catalogs"

for key, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_SERVICE_NAME": "gpubroker",
    "POWERTOOLS_METRICS_NAMESPACE": "GPUBroker",
}.items():
    os.environ.setdefault(key, value)

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def clear_wiring_caches() -> None:
    """Drop every cached default ``Deps`` of the composition root, so the next call builds it anew (under the
    test's environment and front door)."""
    import importlib
    import pkgutil

    import gpubroker.wiring

    for info in pkgutil.iter_modules(gpubroker.wiring.__path__):
        module = importlib.import_module(f"gpubroker.wiring.{info.name}")
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", "") == module.__name__:
                value.cache_clear()


@pytest.fixture(autouse=True)
def _handlers_unlimited(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Handlers called in-process with their default wiring (integration tests) get an unlimited front door with
    no token check, unless the test is marked ``front_door`` (it tests that front door itself). Tests that pass
    ``deps`` name their front door themselves (``tests.fakes.UNLIMITED``)."""
    clear_wiring_caches()
    if request.node.get_closest_marker("front_door"):
        return
    from gpubroker.wiring import edge
    from tests.fakes import UNLIMITED

    monkeypatch.setattr(edge, "front_door", lambda: UNLIMITED)
