"""Real API Gateway events -> lambda_handler(..., deps=in-memory ports): statuses, bodies, error mapping."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gpubroker.services.search import SnapshotCache
from tests.component.conftest import handler_module
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED, World

offers_mod = handler_module("api_list_offers")
offer_mod = handler_module("api_get_offer")
gpus_mod = handler_module("api_list_gpus")
gpu_mod = handler_module("api_get_gpu")
providers_mod = handler_module("api_list_providers")
health_mod = handler_module("api_health")


def call(mod: Any, event: dict[str, Any], deps: Any = None) -> tuple[int, dict[str, Any]]:
    res = mod.lambda_handler(event, Ctx(), deps=deps) if deps is not None else mod.lambda_handler(event, Ctx())
    return int(res["statusCode"]), json.loads(res["body"])


def search(world: World, **query: Any) -> tuple[int, dict[str, Any]]:
    q = {k: v if isinstance(v, list) else [str(v)] for k, v in query.items()}
    deps = offers_mod.Deps(front_door=UNLIMITED, snapshots=SnapshotCache(world.snapshots, ttl_s=0))
    return call(offers_mod, rest_event("/offers", "/offers", q), deps)


def test_search_filters_sort_and_paginate(world: World) -> None:
    status, body = search(world, gpu="RTX-A6000", max_price_per_gpu_hour="1", sort="price", limit="5")
    assert status == 200
    assert body["count"] > 5 and len(body["items"]) == 5 and body["next_cursor"]
    prices = [o["price_per_hour"] for o in body["items"]]
    assert prices == sorted(prices)
    assert {o["gpu_model"] for o in body["items"]} == {"RTX-A6000"}
    status, page2 = search(
        world, gpu="RTX-A6000", max_price_per_gpu_hour="1", sort="price", limit="5", cursor=body["next_cursor"]
    )
    assert status == 200 and not {o["offer_id"] for o in page2["items"]} & {o["offer_id"] for o in body["items"]}


def test_repeated_parameters_are_lists(world: World) -> None:
    _, a = search(world, provider=["runpod", "vast"], limit="100")
    _, runpod = search(world, provider="runpod", limit="1")
    _, vast = search(world, provider="vast", limit="1")
    assert a["count"] == runpod["count"] + vast["count"] > 0
    assert {o["provider"] for o in a["items"]} <= {"runpod", "vast"}


def test_full_text(world: World) -> None:
    status, body = search(world, q="h100 sxm lambda", limit="100")
    assert status == 200 and body["count"] > 0
    for o in body["items"]:
        fields = " ".join([o["provider"], o["gpu_model"], o["region"], o["instance_type"]]).lower()
        assert all(t in fields for t in ("h100", "sxm", "lambda"))
    assert {o["provider"] for o in body["items"]} == {"lambda", "shadeform"}  # shadeform resells lambdalabs_*


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({"bogus": "1"}, 400, "unknown_parameter"),
        ({"cursor": "!!!"}, 400, "invalid_cursor"),
        ({"limit": "0"}, 422, "validation_error"),
        ({"limit": "abc"}, 422, "validation_error"),
        ({"min_price_per_hour": "-1"}, 422, "validation_error"),
        ({"min_price_per_hour": "nan"}, 422, "validation_error"),
        ({"min_price_per_hour": "3", "max_price_per_hour": "1"}, 422, "validation_error"),
        ({"sort": "cheapest"}, 422, "validation_error"),
        ({"gpu": "TPUv5"}, 422, "validation_error"),
        ({"provider": "nope"}, 422, "validation_error"),
        ({"compliance": "hipaa"}, 422, "validation_error"),
        ({"available": "maybe"}, 422, "validation_error"),
        ({"q": "x" * 201}, 422, "validation_error"),
    ],
)
def test_bad_input_is_a_clear_4xx(world: World, query: dict[str, str], status: int, code: str) -> None:
    got, body = search(world, **query)
    assert (got, body["error"]["code"]) == (status, code)
    assert body["error"]["message"]


def test_get_offer_and_404(world: World) -> None:
    offer = next(iter(world.offers.items.values()))
    deps = offer_mod.Deps(front_door=UNLIMITED, offers=world.offers, snapshots=world.snapshots)
    ev = rest_event("/offers/{offer_id}", f"/offers/{offer.offer_id}", path_params={"offer_id": offer.offer_id})
    status, body = call(offer_mod, ev, deps)
    assert status == 200 and body["offer_id"] == offer.offer_id and body["gpu_model"] == offer.gpu_model
    ev = rest_event("/offers/{offer_id}", "/offers/runpod-0000", path_params={"offer_id": "runpod-0000"})
    status, body = call(offer_mod, ev, deps)
    assert (status, body["error"]["code"]) == (404, "offer_not_found")
    ev = rest_event("/offers/{offer_id}", "/offers/BAD_ID", path_params={"offer_id": "BAD ID!"})
    assert call(offer_mod, ev, deps)[0] == 422


def test_gpus_and_providers(world: World) -> None:
    status, body = call(
        gpus_mod, rest_event("/gpus", "/gpus"), gpus_mod.Deps(front_door=UNLIMITED, catalog=world.catalog)
    )
    assert status == 200 and len(body["items"]) >= 21
    assert all(item["sources"]["memory_bandwidth_gbps"] for item in body["items"])
    for name, expected in (("H100-SXM", "H100-SXM"), ("rtxa6000", "RTX-A6000")):
        ev = rest_event("/gpus/{model}", f"/gpus/{name}", path_params={"model": name})
        status, spec = call(gpu_mod, ev, gpu_mod.Deps(front_door=UNLIMITED, catalog=world.catalog))
        assert (status, spec["model"]) == (200, expected)
    ev = rest_event("/gpus/{model}", "/gpus/TPU", path_params={"model": "TPU"})
    assert (
        call(gpu_mod, ev, gpu_mod.Deps(front_door=UNLIMITED, catalog=world.catalog))[1]["error"]["code"]
        == "gpu_not_found"
    )
    status, provs = call(
        providers_mod,
        rest_event("/providers", "/providers"),
        providers_mod.Deps(front_door=UNLIMITED, snapshots=world.snapshots),
    )
    by = {p["name"]: p for p in provs["items"]}
    assert status == 200 and by["runpod"]["offers"] == 480 and by["aws"]["offers"] == 0


def test_health() -> None:
    assert call(health_mod, rest_event("/health", "/health")) == (
        200,
        {"status": "ok", "service": "gpubroker"},
    )


def test_ingest_handler_refuses_bad_events_before_any_io(world: World) -> None:
    ingest = handler_module("ingest_offers")
    from gpubroker.domain.errors import ValidationFailed

    bad_events: tuple[dict[str, str], ...] = (
        {},
        # any well-formed name may be ingested from a catalog (a catalog-only provider); a malformed one may not
        {"provider": "Nope Cloud", "catalog": "x.csv"},
        {"provider": "n", "catalog": "x.csv"},
        {"provider": "x" * 33, "catalog": "x.csv"},
        {"provider": "../etc", "catalog": "x.csv"},
        {"provider": "nope", "source": "api"},  # no adapter: a catalog-only provider needs a catalog
        {"provider": "nope"},
        {"provider": "runpod", "catalog": "x.csv", "display_name": "Not RunPod"},  # a built-in's name is fixed
        {"provider": "nope", "catalog": "x.csv", "website": "javascript:alert(1)"},
        {"provider": "nope", "catalog": "x.csv", "display_name": "bad\nname"},
        {"provider": "nope", "action": "remove", "catalog": "x.csv"},
        {"provider": "nope", "action": "purge"},
        {"provider": "runpod", "source": "catalog"},
        {"provider": "runpod", "source": "api", "catalog": "x.csv"},
        {"provider": "runpod", "source": "api", "base_url": "ftp://x"},
    )
    for bad in bad_events:
        with pytest.raises(ValidationFailed):
            ingest.lambda_handler(bad, Ctx(), deps=object())


# ---- issue 10: GPU spellings in /offers, PCIe apart from SXM -------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "models"),
    [
        # a 422 before: gpu was an enum of canonical ids. H100-80GB-Any: the offers whose board the provider does not
        # state (docs/decisions.md, "Board-unstated GPU models")
        ("H100", ["H100-80GB-Any", "H100-NVL", "H100-PCIe", "H100-SXM"]),
        ("A100 80GB", ["A100-80GB", "A100-80GB-Any", "A100-80GB-PCIe"]),
        ("h100-sxm", ["H100-SXM"]),
        ("NVIDIA H100 80GB HBM3", ["H100-SXM"]),
        ("a6000", ["RTX-A6000"]),
    ],
)
def test_offers_accept_every_gpu_spelling_and_say_how_they_read_it(
    world: World, spelling: str, models: list[str]
) -> None:
    status, body = search(world, gpu=spelling, limit="100")
    assert status == 200, body
    assert body["interpreted"]["gpu"] == {spelling: models}
    assert body["count"] > 0 and {o["gpu_model"] for o in body["items"]} <= set(models)


def test_a_canonical_id_needs_no_interpretation(world: World) -> None:
    status, body = search(world, gpu="H100-SXM", limit="1")
    assert status == 200 and body["interpreted"] == {"gpu": {}}


def test_a_family_spelling_matches_the_union_of_its_variants(world: World) -> None:
    _, family = search(world, gpu="H100", limit="1")
    models = ("H100-SXM", "H100-PCIe", "H100-NVL", "H100-80GB-Any")
    counts = [search(world, gpu=m, limit="1")[1]["count"] for m in models]
    assert family["count"] == sum(counts) and all(c > 0 for c in counts)
    # a specific board does not match the offers whose board is unstated: they may be the other one
    _, sxm = search(world, gpu="H100-SXM", limit="100")
    assert {o["gpu_model"] for o in sxm["items"]} == {"H100-SXM"}


@pytest.mark.parametrize("spelling", ["TPU-v5e", "Voodoo5", "<script>", "x" * 65])
def test_gpu_spellings_that_name_no_gpu_are_a_422(world: World, spelling: str) -> None:
    status, body = search(world, gpu=spelling)
    assert (status, body["error"]["code"]) == (422, "validation_error")


def _gpu(world: World, name: str) -> tuple[int, dict[str, Any]]:
    ev = rest_event("/gpus/{model}", f"/gpus/{name}", path_params={"model": name})
    return call(gpu_mod, ev, gpu_mod.Deps(front_door=UNLIMITED, catalog=world.catalog))


def test_pcie_a100s_have_their_own_figures(world: World) -> None:
    # issue 10: /gpus/A100 80GB PCIe returned the SXM figures (2,039 GB/s, 400 W); /gpus/A100 40GB PCIe was a 404
    status, pcie = _gpu(world, "A100 80GB PCIe")
    assert status == 200 and pcie["model"] == "A100-80GB-PCIe"
    assert (pcie["memory_bandwidth_gbps"], pcie["tdp_w"]) == (1935, 300)
    status, sxm = _gpu(world, "NVIDIA A100-SXM4-80GB")
    assert status == 200 and (sxm["model"], sxm["memory_bandwidth_gbps"], sxm["tdp_w"]) == ("A100-80GB", 2039, 400)
    status, forty = _gpu(world, "A100 40GB PCIe")
    assert status == 200 and forty["model"] == "A100-40GB-PCIe"


def test_an_ambiguous_gpu_spelling_is_a_404_naming_the_candidates(world: World) -> None:
    status, body = _gpu(world, "H100")
    assert (status, body["error"]["code"]) == (404, "gpu_not_found")
    assert body["error"]["details"]["candidates"] == ["H100-80GB-Any", "H100-NVL", "H100-PCIe", "H100-SXM"]


def test_a_board_unstated_model_is_a_catalog_entry(world: World) -> None:
    status, spec = _gpu(world, "H100-80GB-Any")
    assert (status, spec["model"], spec["form_factor"]) == (200, "H100-80GB-Any", "unstated")
    assert spec["variants"] == ["H100-PCIe", "H100-SXM"]
    assert (spec["memory_bandwidth_gbps"], spec["tdp_w"]) == (2000, 350)  # the lower board's figures (PCIe)


@pytest.mark.parametrize(
    ("provider", "instance", "region", "offer_id", "model"),
    [  # offer ids as main computed them: only the GPU model changes
        ("fluidstack", "A100_PCIE_80GB::1", "NORTH_DAKOTA_USA", "fluidstack-9533ac8d701e5f9d", "A100-80GB-PCIe"),
        ("lambda", "gpu_1x_a100", "europe-central-1", "lambda-dd20b436853113a4", "A100-40GB-PCIe"),
        ("runpod", "1x_A100-80GB_SECURE", "CA", "runpod-b7363f029e6bdabb", "A100-80GB-PCIe"),
        ("vast", "1x-A100_PCIE-32-65536", "Oklahoma, US, NA", "vast-041dde48c1ef09cc", "A100-80GB-PCIe"),
    ],
)
def test_catalog_rows_that_say_pcie_are_the_pcie_gpu_under_the_same_offer_id(
    world: World, provider: str, instance: str, region: str, offer_id: str, model: str
) -> None:
    offer = world.offers.items[offer_id]
    assert (offer.provider, offer.instance_type, offer.region) == (provider, instance, region)
    assert (offer.gpu_model, offer.form_factor) == (model, "PCIe")
