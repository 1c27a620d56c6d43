"""GET /offers/{id}/history and GET /market/summary on real events with in-memory ports; real price series."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gpubroker.adapters.price_series import PublicPriceSeries
from gpubroker.services.market import TrendCache, seed_price_history
from gpubroker.services.search import SnapshotCache
from tests.component.conftest import handler_module
from tests.conftest import SHARED
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED, World


def call(name: str, ev: dict[str, Any], deps: Any) -> tuple[int, dict[str, Any]]:
    res = handler_module(name).lambda_handler(ev, Ctx(), deps=deps)
    return int(res["statusCode"]), json.loads(res["body"])


def test_offer_history_pages(world: World) -> None:
    mod = handler_module("api_get_offer_history")
    offer = next(iter(world.offers.items.values()))
    deps = mod.Deps(front_door=UNLIMITED, offers=world.offers, history=world.history)
    path = f"/offers/{offer.offer_id}/history"
    status, page = call(
        "api_get_offer_history",
        rest_event("/offers/{offer_id}/history", path, None, {"offer_id": offer.offer_id}),
        deps,
    )
    assert status == 200 and page["points"][0]["price_per_hour"] == offer.price_per_hour
    status, err = call(
        "api_get_offer_history",
        rest_event("/offers/{offer_id}/history", "/offers/x-1/history", None, {"offer_id": "runpod-0000"}),
        deps,
    )
    assert status == 404 and err["error"]["code"] == "offer_not_found"
    status, err = call(
        "api_get_offer_history",
        rest_event("/offers/{offer_id}/history", path, {"cursor": ["zz"]}, {"offer_id": offer.offer_id}),
        deps,
    )
    assert status == 400 and err["error"]["code"] == "invalid_cursor"


def test_market_summary_with_real_trends(world: World) -> None:
    report = seed_price_history(series=PublicPriceSeries(SHARED / "data" / "price-history"), history=world.history)
    # Prime Intellect's snapshots give one daily close per listing provider (853 points; it was one aggregate point
    # per half-hour snapshot, 6,494, counted as a single voice in the cross-provider trend)
    assert report.points > 1500 and set(report.series) == {
        "prime-intellect-aggregate",
        "aws-p5.48xlarge-daily",
        "runpod-gpuTypes",
    }
    mod = handler_module("api_get_market_summary")
    deps = mod.Deps(
        front_door=UNLIMITED, snapshots=SnapshotCache(world.snapshots, ttl_s=0), trends=TrendCache(world.history)
    )
    status, body = call("api_get_market_summary", rest_event("/market/summary", "/market/summary"), deps)
    assert status == 200
    assert set(body["active_providers"]) == {
        "fluidstack",
        "lambda",
        "paperspace",
        "runpod",
        "shadeform",
        "vast",
        "verda",
    }
    assert sum(h["offers"] for h in body["price_histogram"]) == body["live_offers"]
    assert abs(sum(s["offer_share_pct"] for s in body["provider_share"]) - 100) < 0.01
    h100 = next(m for m in body["by_gpu"] if m["gpu_model"] == "H100-SXM")
    assert h100["best_price_per_gpu_hour"] <= h100["median_price_per_gpu_hour"] and h100["savings_potential_pct"] >= 0
    trend = body["trend_7d"]["H100-SXM"]
    assert trend["direction"] in {"up", "down", "flat"} and 1 <= len(trend["days"]) <= 7
    assert trend["basis"].startswith("median across providers") and trend["providers"] >= 5
    assert all(d["median_price_per_gpu_hour"] < 3.5 for d in trend["days"])  # not AWS's p5 list price (6.88)
    # offers, not GPUs: named for what they count, and the GPUs counted beside them
    assert "available_gpus" not in body and sum(body["available_offers"].values()) == body["live_offers"]
    assert body["available_offers"]["H100-SXM"] == h100["offers"]
    live_h100 = [o for o in world.offers.items.values() if o.available and o.gpu_model == "H100-SXM"]
    assert body["gpus_in_live_offers"]["H100-SXM"] == h100["gpus"] == sum(o.gpu_count for o in live_h100)
    assert h100["gpus"] > h100["offers"] == len(live_h100)


@pytest.mark.parametrize("bad", [{"series": "/nope"}, {}])
def test_seed_refuses_bad_events(world: World, bad: dict[str, str]) -> None:
    from gpubroker.domain.errors import ValidationFailed

    mod = handler_module("seed_price_history")
    with pytest.raises(ValidationFailed):
        mod.lambda_handler(bad, Ctx(), deps=mod.Deps(history=world.history))


def test_the_openapi_document_says_what_the_numbers_mean() -> None:
    """The merged document names offers as offers and documents savings_pct's definition and range."""
    from gpubroker.api.openapi import merge_openapi

    names = ("api_get_market_summary", "api_get_preset", "api_list_presets", "api_math_cost_per_gflop",
             "api_math_efficiency_score")  # fmt: skip
    doc = merge_openapi([handler_module(n).app for n in names], title="t", version="1")
    schemas = doc["components"]["schemas"]
    summary = schemas["MarketSummary"]["properties"]
    assert "available_gpus" not in summary and "offers, not GPUs" in summary["available_offers"]["description"]
    assert "sum of gpu_count" in summary["gpus_in_live_offers"]["description"]
    trend = schemas["MarketTrend"]["properties"]
    assert {"basis", "providers", "series", "source"} <= set(trend)
    savings = schemas["PresetItemOut"]["properties"]["savings_pct"]
    assert (savings["minimum"], savings["exclusiveMaximum"]) == (0, 100)
    assert "0 means no saving" in savings["description"] and "median" in savings["description"]
    assert "promise" in schemas["PresetOut"]["required"]
    for request in ("CostPerGflopRequest", "EfficiencyByGpu"):
        assert schemas[request]["properties"]["precision"]["enum"] == ["fp32", "fp16", "bf16", "fp8"]
