from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import pytest

from gpubroker.adapters.skypilot_catalog import SkyPilotCatalogSource
from gpubroker.services.ingestion import run_ingestion
from tests.conftest import CATALOGS
from tests.fakes import (
    FixedClock,
    MemoryGpuCatalog,
    MemoryOfferRepository,
    MemoryPriceHistory,
    MemorySnapshotStore,
)


class World:
    """Every real catalog ingested into in-memory ports (what the handlers read in component tests)."""

    def __init__(self) -> None:
        self.offers = MemoryOfferRepository()
        self.history = MemoryPriceHistory()
        self.snapshots = MemorySnapshotStore()
        self.catalog = MemoryGpuCatalog()
        self.clock = FixedClock()
        self.reports: list[Any] = []
        for csv in sorted(CATALOGS.glob("*/vms.csv")):
            self.reports.append(
                run_ingestion(
                    SkyPilotCatalogSource(csv.parent.name, str(csv)),
                    offers=self.offers,
                    history=self.history,
                    snapshots=self.snapshots,
                    catalog=self.catalog,
                    clock=self.clock,
                )
            )


@pytest.fixture(scope="session")
def world() -> World:
    return World()


def handler_module(name: str) -> ModuleType:
    return importlib.import_module(f"functions.{name}.handler")
