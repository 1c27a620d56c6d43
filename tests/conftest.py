"""Test environment: fake AWS credentials and quiet Powertools set before anything imports boto3 or Powertools."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CATALOGS = SHARED / "data" / "catalogs"
SHARED_DATA = (CATALOGS, SHARED / "data" / "price-history")
TESTS = Path(__file__).resolve().parent
_USES_SHARED = re.compile(r"^from tests\.conftest import (?:\([^)]*|[^\n]*)\b(?:SHARED|CATALOGS)\b", re.MULTILINE)

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

from tests.powertools_threads import install as _powertools_per_thread  # noqa: E402

_powertools_per_thread()  # several threads may resolve requests at once here (tests/powertools_threads.py)


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


def _needs_shared_data(module: Path) -> bool:
    """A test module needs ../shared if it, or a conftest.py between it and tests/, imports ``SHARED`` or
    ``CATALOGS`` from here; every e2e module does (the local stack seeds itself from it)."""
    if TESTS / "e2e" in module.parents:
        return True
    files = [module, *(d / "conftest.py" for d in module.parents if TESTS in d.parents)]
    return any(f.is_file() and _USES_SHARED.search(f.read_text()) for f in files)


def _modules(config: pytest.Config) -> list[Path]:
    """The test modules the command line names (its paths, or ``testpaths``), before any -k/-m selection."""
    found: list[Path] = []
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        found += sorted(path.rglob("test_*.py")) if path.is_dir() else [path]
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    """A missing ../shared stops the run before anything starts (xdist's workers included), with the path, when a
    module that needs it is among those named, rather than as a FileNotFoundError at import or a dozen failing
    fixtures. Modules that do not need it still run on a machine without it."""
    missing = [str(d) for d in SHARED_DATA if not d.is_dir()]
    needing = [m for m in _modules(session.config) if missing and _needs_shared_data(m)] if missing else []
    if needing:
        pytest.exit(
            f"the shared data folder is missing: {', '.join(missing)} not found, and {len(needing)} of the test "
            f"modules named read it (first: {needing[0].relative_to(ROOT)}). The tests read the real catalogs and "
            f"price series from ../shared/data beside the project root ({ROOT}); put the shared folder there.",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
