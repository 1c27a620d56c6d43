"""GET /health/ready (readiness) apart from GET /health (liveness): 503 ``not_ready`` until a snapshot is
published, then 200 with what it holds."""

from __future__ import annotations

import json

from gpubroker.domain.offers import RawOffer
from tests.component.conftest import handler_module
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED, ListSource, World

ready_mod = handler_module("api_health_ready")
health_mod = handler_module("api_health")


def test_live_before_ready_and_ready_once_a_snapshot_is_published() -> None:
    w = World()
    deps = ready_mod.Deps(snapshots=w.snapshots, ttl_s=2.0, front_door=UNLIMITED)
    live = health_mod.lambda_handler(
        rest_event("/health", "/health"), Ctx(), deps=health_mod.Deps(front_door=UNLIMITED)
    )
    assert live["statusCode"] == 200
    res = ready_mod.lambda_handler(rest_event("/health/ready", "/health/ready"), Ctx(), deps=deps)
    assert res["statusCode"] == 503 and json.loads(res["body"])["error"]["code"] == "not_ready"

    offers: list[RawOffer] = [
        RawOffer(
            provider="runpod",
            instance_type=f"1x_A6000_{i}",
            region="CA",
            gpu_name="A6000",
            gpu_count=1,
            price_per_hour=0.49 + i,
        )
        for i in range(2)
    ]
    report = w.run(ListSource("runpod", list(offers)))
    res = ready_mod.lambda_handler(rest_event("/health/ready", "/health/ready"), Ctx(), deps=deps)
    body = json.loads(res["body"])
    assert res["statusCode"] == 200, body
    assert body["status"] == "ready" and body["snapshot_version"] == report.snapshot_version
    assert (body["offers"], body["providers"], body["stale"], body["searchable_within_s"]) == (2, 1, False, 2.0)
