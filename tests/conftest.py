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


@pytest.fixture(autouse=True)
def _handlers_unlimited(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Handlers called in-process run their front door with an unlimited limiter and no token check, unless the
    test is marked ``front_door`` (it tests that front door itself)."""
    if request.node.get_closest_marker("front_door"):
        return
    from gpubroker import wiring
    from tests.fakes import Unlimited

    monkeypatch.setattr(wiring, "edge", lambda: wiring.Edge(limiter=Unlimited()))
