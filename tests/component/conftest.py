from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from gpubroker.adapters.skypilot_catalog import SkyPilotCatalogSource
from tests.conftest import CATALOGS, clear_wiring_caches
from tests.fakes import World


def seeded_world() -> World:
    """Every real catalog ingested into in-memory ports (what the handlers read in component tests)."""
    world = World()
    for csv in sorted(CATALOGS.glob("*/vms.csv")):
        world.run(SkyPilotCatalogSource(csv.parent.name, str(csv)))
    return world


@pytest.fixture(scope="session")
def world() -> World:
    return seeded_world()


def handler_module(name: str) -> ModuleType:
    return importlib.import_module(f"functions.{name}.handler")


def default_wired(module_name: str, monkeypatch: pytest.MonkeyPatch, label: str) -> ModuleType:
    """A function's handler module on its default wiring, every required setting a dummy resource name
    (``https://<label>.test`` for endpoints): for tests whose answer comes before any port is read."""
    module = importlib.import_module(module_name)
    for name, field in module.Settings.model_fields.items():
        if field.is_required():
            monkeypatch.setenv(name, f"https://{label}.test" if "ENDPOINT" in name else f"{label}-test")
    clear_wiring_caches()
    return module
