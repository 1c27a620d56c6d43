from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from gpubroker.adapters.skypilot_catalog import SkyPilotCatalogSource
from tests.conftest import CATALOGS
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
