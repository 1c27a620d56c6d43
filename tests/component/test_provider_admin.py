"""DELETE /providers/{name} through its handler: admins only, audited, a built-in is a 409 and an unknown name a
404; the removal itself runs in the ingestion function (here its handler over in-memory ports), the snapshot's one
writer."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from gpubroker.domain.accounts import Principal
from gpubroker.domain.offers import RawOffer
from gpubroker.services.catalog import list_providers
from gpubroker.wiring.offers import IngestDeps
from tests.component.conftest import handler_module
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED, ListSource, World, trail
from tests.fakes_audit import MemoryAuditLog

delete_mod = handler_module("api_delete_provider")
ingest_mod = handler_module("ingest_offers")


@dataclass
class IngestionHandler:
    """The ``IngestionRunner`` port as the ingestion function answers it: its handler, over the world's ports."""

    world: World
    events: list[dict[str, Any]]

    def run(self, event: Mapping[str, Any]) -> dict[str, Any]:
        self.events.append(dict(event))
        w = self.world
        deps = IngestDeps(offers=w.offers, history=w.history, snapshots=w.snapshots, catalog=w.catalog,
                          clock=w.clock, sources=None)  # type: ignore[arg-type]  # fmt: skip
        answer: dict[str, Any] = ingest_mod.lambda_handler(dict(event), Ctx(), deps=deps)
        return answer


def principal(*roles: str) -> Principal:
    return Principal(user_id=f"u-{uuid.uuid4().hex[:8]}", plan="enterprise", roles=frozenset(roles))


def delete(name: str, who: Principal | None) -> dict[str, Any]:
    ev = rest_event("/providers/{name}", f"/providers/{name}", None, {"name": name})
    ev["httpMethod"] = ev["requestContext"]["httpMethod"] = "DELETE"
    ev["requestContext"]["authorizer"] = who.to_context() if who else None
    return ev


@pytest.fixture
def world() -> World:
    w = World()
    nebius: list[RawOffer] = []
    for i in range(3):
        nebius.append(RawOffer(provider="nebius", instance_type=f"gpu-h100-sxm-{i}", region="eu-north1",
                               gpu_name="H100", gpu_count=1, gpu_memory_gb=80, price_per_hour=2.95 + i))  # fmt: skip
    assert w.run(ListSource("nebius", list(nebius)), {"display_name": "Nebius"}).accepted == 3
    return w


def call(world: World, event: dict[str, Any], log: MemoryAuditLog) -> tuple[int, dict[str, Any], list[Any]]:
    runner = IngestionHandler(world, [])
    deps = delete_mod.Deps(ingestion=runner, front_door=UNLIMITED, audit=trail(log))
    res = delete_mod.lambda_handler(event, Ctx(), deps=deps)
    return int(res["statusCode"]), json.loads(res["body"]), runner.events


def audited(log: MemoryAuditLog) -> list[tuple[str, str, str]]:
    return [(e.action, e.resource, e.outcome) for n in range(log.shards) for e in log.all_entries(n)]


def test_an_admin_removes_a_catalog_only_provider(world: World) -> None:
    log = MemoryAuditLog()
    status, body, events = call(world, delete("nebius", principal("admin", "user")), log)
    assert status == 200, body
    assert body["provider"] == "nebius" and body["status"] == "removed" and body["marked_unavailable"] == 3
    assert events == [{"provider": "nebius", "action": "remove"}]
    assert "nebius" not in {p.name for p in list_providers(snapshots=world.snapshots)}
    assert audited(log) == [("provider.remove", "provider/nebius", "ok")]
    status, body, _ = call(world, delete("nebius", principal("admin")), log)  # again: nothing to remove
    assert (status, body["error"]["code"]) == (404, "provider_not_found")


def test_builtins_are_refused_without_asking_the_ingestion_function(world: World) -> None:
    log = MemoryAuditLog()
    status, body, events = call(world, delete("runpod", principal("admin")), log)
    assert (status, body["error"]["code"], events) == (409, "builtin_provider", [])
    assert audited(log) == [("provider.remove", "provider/runpod", "refused:409")]


@pytest.mark.parametrize(("roles", "expected"), [(("user",), 403), ((), 401)])
def test_only_admins_may_remove(world: World, roles: tuple[str, ...], expected: int) -> None:
    log = MemoryAuditLog()
    status, _, events = call(world, delete("nebius", principal(*roles) if roles else None), log)
    assert status == expected and events == []
    assert "nebius" in {p.name for p in list_providers(snapshots=world.snapshots)}


@pytest.mark.parametrize("name", ["Nebius", "n", "x" * 33, "bad_name", "-x"])
def test_malformed_names_are_422(world: World, name: str) -> None:
    status, body, events = call(world, delete(name, principal("admin")), MemoryAuditLog())
    assert status == 422 and events == [], body
