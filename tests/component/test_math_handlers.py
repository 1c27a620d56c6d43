"""The /math, /presets, /interactions and /offers/{id}/similar handlers on real events with in-memory ports."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from gpubroker.domain.accounts import Principal
from gpubroker.services.collab import CfModel, CfModelCache
from gpubroker.services.offer_math import OfferMathCache
from gpubroker.services.presets import run_preset
from gpubroker.services.search import SnapshotCache
from gpubroker.wiring.math import PersonalDeps
from tests.component.conftest import handler_module
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED, MemoryInteractions, MemoryModelStore, World, trail
from tests.fakes_audit import MemoryAuditLog

ALICE = Principal(user_id="alice")
ADMIN = Principal(user_id="root", roles=frozenset({"user", "admin"}))


def post(
    name: str, path: str, body: Any, deps: Any, *, caller: Principal | None = None, audit: Any = None
) -> tuple[int, dict[str, Any]]:
    """``caller``: the Principal the authorizer hands a protected route (None: an anonymous request)."""
    ev = rest_event(path, path)
    ev["httpMethod"] = "POST"
    ev["requestContext"]["httpMethod"] = "POST"
    ev["requestContext"]["authorizer"] = caller.to_context() if caller else None
    ev["body"] = body if isinstance(body, str) else json.dumps(body)
    if audit is not None:
        deps = replace(deps, audit=trail(audit))
    res = handler_module(name).lambda_handler(ev, Ctx(), deps=deps)
    return int(res["statusCode"]), json.loads(res["body"])


def get(
    name: str,
    resource: str,
    path: str,
    query: dict[str, list[str]] | None,
    params: dict[str, str] | None,
    deps: Any,
    *,
    caller: Principal | None = None,
) -> tuple[int, dict[str, Any]]:
    ev = rest_event(resource, path, query, params)
    ev["requestContext"]["authorizer"] = caller.to_context() if caller else None
    res = handler_module(name).lambda_handler(ev, Ctx(), deps=deps)
    return int(res["statusCode"]), json.loads(res["body"])


@pytest.fixture(scope="module")
def deps(world: World) -> PersonalDeps:
    models = MemoryModelStore()
    interactions = MemoryInteractions()
    offers = OfferMathCache(SnapshotCache(world.snapshots, ttl_s=60).current)
    offer_math = offers.get()
    ids = np.sort(offer_math.cols.offer_id[:50])
    rng = np.random.default_rng(1)
    model = CfModel(
        user_ids=np.array(["alice", "bob"]),
        offer_ids=ids,
        user_factors=rng.normal(size=(2, 4)),
        item_factors=rng.normal(size=(ids.size, 4)),
        item_counts=np.arange(ids.size, dtype=float),
        mean=3.0,
        meta={"k": 4},
    )
    models.save("cf", model.to_bytes(), model.meta)
    interactions.record("alice", str(ids[0]), "save", world.clock.now())
    return PersonalDeps(offers=offers, models=CfModelCache(models), interactions=interactions, front_door=UNLIMITED)


def test_cost_per_token_measured_and_estimated(deps: PersonalDeps) -> None:
    status, body = post(
        "api_math_cost_per_token", "/math/cost-per-token", {"price_per_hour": 2.0, "tokens_per_second": 1000}, deps
    )
    assert status == 200 and body["usd_per_million_tokens"] == round(2.0 / 3.6, 4)
    status, body = post(
        "api_math_cost_per_token", "/math/cost-per-token", {"gpu_model": "H100-SXM", "model_params_b": 8}, deps
    )
    assert status == 200 and body["method"] == "estimated" and body["offer_id"] and body["usd_per_million_tokens"] > 0
    for bad in (
        {"price_per_hour": 2.0, "tokens_per_second": 0},
        {"price_per_hour": 2.0, "tokens_per_second": -5},
        {"gpu_model": "TPU", "model_params_b": 8},
        {"gpu_model": "RTX-4090", "model_params_b": 70},
        {},
        "{not json",
    ):
        status, body = post("api_math_cost_per_token", "/math/cost-per-token", bad, deps)
        assert status == 422, (bad, body)
        assert body["error"]["code"] == "validation_error"


def _offer_of(deps: PersonalDeps, gpu_model: str) -> tuple[str, float]:
    cols = deps.offers.get().cols
    code = list(cols.vocab["gpu_model"]).index(gpu_model)
    i = int(np.flatnonzero(cols.codes["gpu_model"] == code)[0])
    return str(cols.offer_id[i]), float(cols.floats["price_per_gpu_hour"][i])


def test_cost_per_token_of_an_offer_whatever_its_gpu(deps: PersonalDeps) -> None:
    """The offer page's cost per token: by offer, at its price, for board-unstated GPUs (V100-16GB-Any) and for cards
    an 8B model's fp16 weights do not fit (Quadro-M4000, 8 GB: it was a 422 insufficient_memory by GPU model)."""
    route = ("api_math_cost_per_token", "/math/cost-per-token")
    for gpu, fmt in (("V100-16GB-Any", "fp16"), ("H100-80GB-Any", "fp16"), ("Quadro-M4000", "int8")):
        offer_id, price = _offer_of(deps, gpu)
        status, body = post(*route, {"offer_id": offer_id}, deps)
        assert status == 200, body
        assert body["method"] == "estimated" and body["gpu_model"] == gpu and body["offer_id"] == offer_id
        assert body["precision"] == fmt and body["price_per_hour"] == pytest.approx(price, rel=1e-3)
        assert body["usd_per_million_tokens"] > 0
        status, body = post(*route, {"gpu_model": gpu, "model_params_b": 4, "price_per_hour": 1.0}, deps)
        assert status == 200 and body["method"] == "estimated", body
    status, body = post(*route, {"gpu_model": "Quadro-M4000", "model_params_b": 8}, deps)
    assert status == 422 and body["error"]["details"]["reason"] == "insufficient_memory"  # by GPU model: still a 422
    offer_id, _ = _offer_of(deps, "V100-16GB-Any")
    status, body = post(*route, {"offer_id": offer_id, "precision": "bf16"}, deps)
    assert status == 200 and body["method"] == "not_applicable" and body["reason"] == "precision_unsupported", body
    assert body["usd_per_million_tokens"] is None and "Volta" in body["explanation"]
    status, body = post(*route, {"offer_id": offer_id, "model_params_b": 70}, deps)
    assert status == 200 and body["method"] == "not_applicable" and body["reason"] == "insufficient_memory", body
    status, body = post(*route, {"offer_id": "nope-123"}, deps)
    assert status == 404 and body["error"]["code"] == "offer_not_found"


def test_cost_per_gflop_and_efficiency(deps: PersonalDeps) -> None:
    status, body = post(
        "api_math_cost_per_gflop",
        "/math/cost-per-gflop",
        {"gpu_model": "H100-SXM", "precision": "bf16", "price_per_gpu_hour": 2.5},
        deps,
    )
    assert status == 200 and body["usd_per_pflop_hour"] == round(2.5 * 1000 / body["tflops"], 4)
    status, body = post(
        "api_math_efficiency_score",
        "/math/efficiency-score",
        {"gpu_model": "RTX-4090", "price_per_gpu_hour": 0.4},
        deps,
    )
    assert status == 200 and 0 <= body["score"] <= 100
    offer_id = str(deps.offers.get().cols.offer_id[0])
    status, body = post("api_math_efficiency_score", "/math/efficiency-score", {"offer_id": offer_id}, deps)
    assert status == 200
    status, body = post("api_math_efficiency_score", "/math/efficiency-score", {"offer_id": "nope-123"}, deps)
    assert status == 404


MATH_ROUTES: dict[str, tuple[str, dict[str, Any]]] = {
    "/math/cost-per-token": ("api_math_cost_per_token", {"model_params_b": 1, "price_per_hour": 1.0}),
    "/math/cost-per-gflop": ("api_math_cost_per_gflop", {"price_per_gpu_hour": 1.0}),
    "/math/efficiency-score": ("api_math_efficiency_score", {"price_per_gpu_hour": 1.0}),
    "/math/estimate-workload": ("api_math_estimate_workload", {"type": "llm_inference", "params_b": 1}),
    "/math/map-workload-to-gpu": ("api_math_map_workload_to_gpu", {"type": "llm_inference", "params_b": 1}),
}


@pytest.mark.parametrize("path", list(MATH_ROUTES))
def test_a_precision_the_gpu_lacks_is_one_422_on_every_route(deps: PersonalDeps, path: str) -> None:
    """T4 with bf16: the KPI routes priced it at the fp16 figure (200) while the workload routes refused it."""
    name, body = MATH_ROUTES[path]
    gpu: dict[str, Any] = {"gpus": ["T4"]} if "workload" in path else {"gpu_model": "T4"}
    status, out = post(name, path, body | gpu | {"precision": "bf16"}, deps)
    assert (status, out["error"]["code"]) == (422, "precision_unsupported"), out
    assert out["error"]["details"]["supported"]["T4"] == ["fp32", "fp16", "int8", "int4"]
    status, _ = post(name, path, body | gpu | {"precision": "fp16"}, deps)
    assert status == 200


def test_topsis_matrix_and_offers(deps: PersonalDeps) -> None:
    body = {"matrix": [[1, 10], [2, 20], [3, 5]], "weights": [0.5, 0.5], "types": ["cost", "benefit"]}
    status, out = post("api_math_topsis", "/math/topsis", body, deps)
    assert status == 200 and len(out["scores"]) == 3 and sorted(out["ranking"]) == [0, 1, 2]
    status, out = post(
        "api_math_topsis",
        "/math/topsis",
        {
            "criteria": [{"name": "price_per_gpu_hour", "weight": 1}, {"name": "fp16_tflops", "weight": 1}],
            "filters": {"gpu": ["H100-SXM"]},
            "limit": 5,
        },
        deps,
    )
    assert status == 200 and out["count"] > 5 and len(out["items"]) == 5
    assert all(i["gpu_model"] == "H100-SXM" for i in out["items"])
    scores = [i["score"] for i in out["items"]]
    assert scores == sorted(scores, reverse=True)
    bad: dict[str, Any]
    for bad in (
        {"matrix": [[1, 2]], "weights": [1], "types": ["cost"]},
        {"criteria": [{"name": "vibes", "weight": 1}]},
        {"matrix": [[1]], "weights": [0], "types": ["cost"]},
        {"criteria": []},
        {"matrix": [[1, 2]] * 10_001, "weights": [1, 1], "types": ["cost", "cost"]},
    ):
        assert post("api_math_topsis", "/math/topsis", bad, deps)[0] == 422, bad


def test_similarity_endpoints(deps: PersonalDeps) -> None:
    ids = [str(i) for i in deps.offers.get().cols.offer_id[:3]]
    status, out = post("api_math_content_similarity", "/math/content-similarity", {"offer_ids": ids}, deps)
    m = np.array(out["matrix"])
    assert status == 200 and m.shape == (3, 3) and np.all(np.diag(m) == 1) and np.allclose(m, m.T)
    status, out = get(
        "api_list_similar_offers",
        "/offers/{offer_id}/similar",
        f"/offers/{ids[0]}/similar",
        {"limit": ["5"]},
        {"offer_id": ids[0]},
        deps,
    )
    assert status == 200 and len(out["items"]) == 5 and ids[0] not in [i["offer_id"] for i in out["items"]]
    sims = [i["similarity"] for i in out["items"]]
    assert sims == sorted(sims, reverse=True)
    status, _ = get(
        "api_list_similar_offers",
        "/offers/{offer_id}/similar",
        "/offers/nope-1/similar",
        None,
        {"offer_id": "nope-1"},
        deps,
    )
    assert status == 404


def test_ensemble_paths(deps: PersonalDeps) -> None:
    route = ("api_math_ensemble_recommend", "/math/ensemble-recommend")
    status, warm = post(*route, {"limit": 5}, deps, caller=ALICE)  # the caller's own history
    assert status == 200 and warm["path"] == "personalised" and len(warm["items"]) == 5
    item = warm["items"][0]
    assert set(item["components"]) == {"topsis", "collaborative", "content"} and item["top_criteria"]
    status, stranger = post(*route, {}, deps, caller=Principal(user_id="zed"))
    assert stranger["path"] == "cold_start" and "no interactions" in stranger["reason"]
    status, same = post(*route, {"user_id": "alice", "limit": 5}, deps, caller=ALICE)
    assert status == 200 and same["path"] == "personalised"
    bad = {"weights": {"topsis": 0.5, "collaborative": 0.5, "content": 0.5}}
    status, err = post(*route, bad, deps, caller=ALICE)
    assert status == 422 and err["error"]["code"] == "validation_error"


def test_ensemble_and_cf_never_read_another_users_history(deps: PersonalDeps) -> None:
    """Another user's recommendations are derived from their history: only an admin may name them."""
    for name, path in (("api_math_ensemble_recommend", "/math/ensemble-recommend"),
                       ("api_math_collaborative_filter", "/math/collaborative-filter")):  # fmt: skip
        status, err = post(name, path, {"user_id": "alice"}, deps, caller=Principal(user_id="mallory"))
        assert status == 403 and err["error"]["code"] == "forbidden"
        status, err = post(name, path, {"user_id": "alice"}, deps)  # no authorizer context: never runs as nobody
        assert status == 401 and err["error"]["code"] == "unauthorized"
        status, _ = post(name, path, {"user_id": "alice"}, deps, caller=ADMIN)
        assert status == 200


def test_collaborative_filter(deps: PersonalDeps) -> None:
    route = ("api_math_collaborative_filter", "/math/collaborative-filter")
    status, out = post(*route, {"top": 3}, deps, caller=ALICE)
    assert status == 200 and out["user_id"] == "alice" and out["known_user"] is True and len(out["items"]) == 3
    status, out = post(*route, {"top": 3}, deps, caller=Principal(user_id="zed"))
    assert status == 200 and out["known_user"] is False and out["path"] == "cold_start_popularity"


def test_presets(deps: PersonalDeps) -> None:
    status, out = get("api_list_presets", "/presets", "/presets", None, None, deps)
    names = [p["name"] for p in out["items"]]
    assert status == 200 and names == [
        "best-value",
        "highest-performance",
        "most-reliable",
        "budget-friendly",
        "enterprise-grade",
        "for-you",
    ]
    for p in out["items"]:
        top = p["top_offer"]
        assert top is not None and 0 <= top["confidence"] <= 1 and "savings_pct" in top
    status, one = get(
        "api_get_preset",
        "/presets/{name}",
        "/presets/enterprise-grade",
        {"limit": ["5"]},
        {"name": "enterprise-grade"},
        deps,
    )
    assert (
        status == 200
        and len(one["items"]) == 5
        and all(i["provider"] not in {"vast", "shadeform"} for i in one["items"])
    )
    status, _ = get("api_get_preset", "/presets/{name}", "/presets/cheapest", None, {"name": "cheapest"}, deps)
    assert status == 422


def test_personalised_presets_are_the_callers_own(deps: PersonalDeps) -> None:
    def for_you(user_id: str | None) -> list[str]:
        model = deps.models.get() if deps.models else None
        history = deps.interactions.history(user_id) if deps.interactions and user_id else None
        out = run_preset(
            "for-you", offer_math=deps.offers.get(), limit=5, user_id=user_id, model=model, history=history
        )
        return [i.offer_id for i in out.items]

    route = ("api_get_my_preset", "/me/presets/{name}", "/me/presets/for-you", {"limit": ["5"]}, {"name": "for-you"})
    status, mine = get(*route, deps, caller=ALICE)
    assert status == 200 and [i["offer_id"] for i in mine["items"]] == for_you("alice")
    public = ("api_get_preset", "/presets/{name}", "/presets/for-you", {"limit": ["5"]}, {"name": "for-you"})
    status, anonymous = get(*public, deps)
    assert status == 200 and [i["offer_id"] for i in anonymous["items"]] == for_you(None)
    status, _ = get(*public[:3], {"user_id": ["alice"]}, public[4], deps)  # a public route cannot name a user
    assert status == 400
    status, err = get(*route, deps)
    assert status == 401 and err["error"]["code"] == "unauthorized"
    status, listed = get("api_list_my_presets", "/me/presets", "/me/presets", None, None, deps, caller=ALICE)
    assert status == 200 and listed["items"][-1]["top_offer"]["offer_id"] == for_you("alice")[0]
    status, _ = get("api_list_my_presets", "/me/presets", "/me/presets", None, None, deps)
    assert status == 401


def test_record_interaction(world: World) -> None:
    mod = handler_module("api_record_interaction")
    interactions = MemoryInteractions()
    audit = MemoryAuditLog()
    d = mod.Deps(front_door=UNLIMITED, audit=trail(), offers=world.offers, interactions=interactions, clock=world.clock)
    offer_id = next(iter(world.offers.items))
    route = ("api_record_interaction", "/interactions")
    status, recorded = post(*route, {"offer_id": offer_id, "kind": "save"}, d, caller=ALICE, audit=audit)
    assert status == 201 and recorded["kind"] == "save" and recorded["user_id"] == "alice"
    assert interactions.history("alice") == {offer_id: {"view": 0, "save": 1, "book": 0}}
    (entry,) = [e for shard in range(audit.shards) for e in audit.all_entries(shard)]
    assert (entry.actor, entry.action, entry.resource, entry.outcome) == (
        "user:alice", "interaction.record", f"offer/{offer_id}", "ok")  # fmt: skip
    status, _ = post(*route, {"offer_id": "runpod-00000", "kind": "save"}, d, caller=ALICE, audit=audit)
    assert status == 404 and len(interactions.items) == 1  # nothing written for an unknown offer
    status, _out = post(*route, {"offer_id": offer_id, "kind": "like"}, d, caller=ALICE, audit=audit)
    assert status == 422


def test_an_interaction_is_recorded_only_for_the_caller(world: World) -> None:
    mod = handler_module("api_record_interaction")
    interactions = MemoryInteractions()
    d = mod.Deps(front_door=UNLIMITED, audit=trail(), offers=world.offers, interactions=interactions, clock=world.clock)
    offer_id = next(iter(world.offers.items))
    route = ("api_record_interaction", "/interactions")
    forged = {"user_id": "alice", "offer_id": offer_id, "kind": "book"}
    status, err = post(*route, forged, d, caller=Principal(user_id="mallory"), audit=MemoryAuditLog())
    assert status == 422 and err["error"]["code"] == "validation_error"  # the body cannot name a user
    status, err = post(*route, {"offer_id": offer_id, "kind": "book"}, d, audit=MemoryAuditLog())
    assert status == 401
    assert interactions.items == {}


def test_workload_endpoints(deps: PersonalDeps) -> None:
    body = {"type": "llm_inference", "params_b": 70, "precision": "fp16", "context_tokens": 4096, "concurrency": 4}
    status, est = post("api_math_estimate_workload", "/math/estimate-workload", body, deps)
    assert status == 200 and est["requirement"]["memory_required_gb"] > 140 and est["priced"] is True
    status, mapped = post("api_math_map_workload_to_gpu", "/math/map-workload-to-gpu", body, deps)
    assert status == 200 and mapped["plans"]
    costs = [p["est_cost_usd"] for p in mapped["plans"]]
    assert costs == sorted(costs) and all(p["offer_id"] for p in mapped["plans"])
    assert all(p["reason"] for p in mapped["infeasible"])
    status, err = post("api_math_map_workload_to_gpu", "/math/map-workload-to-gpu", {"type": "quantum"}, deps)
    assert status == 422 and err["error"]["code"] == "validation_error"
    # each field in range, the combination not: the model's validator refuses it, naming the field
    for name, path in (
        ("api_math_estimate_workload", "/math/estimate-workload"),
        ("api_math_map_workload_to_gpu", "/math/map-workload-to-gpu"),
    ):
        status, err = post(name, path, body | {"output_tokens": 4096}, deps)
        assert status == 422 and err["error"]["code"] == "validation_error"
        assert [d["loc"][-2:] for d in err["error"]["details"]] == [["llm_inference", "output_tokens"]]


@pytest.mark.parametrize("body", [[{}, [1]], [{}], [], "text", 3, True, None])
@pytest.mark.parametrize(
    ("name", "path"),
    [("api_math_ensemble_recommend", "/math/ensemble-recommend"), ("api_math_topsis", "/math/topsis")],
)
def test_a_body_that_is_not_a_json_object_is_refused(deps: PersonalDeps, name: str, path: str, body: Any) -> None:
    # Powertools alone validated an array by its first element: [{}, [1]] got a 200 from ensemble-recommend
    status, out = post(name, path, body, deps)
    assert (status, out["error"]["code"]) == (422, "validation_error")


def test_training_reports_what_it_read_and_the_model_only_when_it_trained() -> None:
    from datetime import UTC, datetime

    from tests.fakes import FixedClock

    mod = handler_module("train_collaborative_filter")
    interactions, models = MemoryInteractions(), MemoryModelStore()
    deps = mod.Deps(interactions=interactions, models=models, clock=FixedClock())
    assert mod.lambda_handler({}, Ctx(), deps=deps) == {"users": 0, "offers": 0, "ratings": 0, "trained": False}
    assert models.blobs == {}
    at = datetime(2026, 11, 26, tzinfo=UTC)
    for user, offer in (("u1", "runpod-a1"), ("u1", "runpod-b2"), ("u2", "runpod-a1")):
        interactions.record(user, offer, "save", at)
    report = mod.lambda_handler({}, Ctx(), deps=deps)
    assert {k: report[k] for k in ("users", "offers", "ratings", "trained", "k")} == {
        "users": 2, "offers": 2, "ratings": 3, "trained": True, "k": 2
    }  # fmt: skip
    assert set(report) == {"users", "offers", "ratings", "trained", "k", "sweeps", "converged", "seconds"}
    assert isinstance(report["sweeps"], int) and isinstance(report["converged"], bool) and "cf" in models.blobs


def test_a_named_70b_fits_two_80gb_gpus_through_the_route(deps: PersonalDeps) -> None:
    """Llama 3 70B in fp16 at 4,096 tokens is served with vLLM at tensor parallelism 2 on 2 x 80 GB every day: the
    table's architecture (80 layers, 8 KV heads) and the memory model applied once must say it fits."""
    body = {
        "type": "llm_inference",
        "model": "Llama 3 70B Instruct",
        "precision": "fp16",
        "context_tokens": 4096,
        "gpu_count": 2,
        "gpus": ["H100-SXM", "A100-80GB"],
    }
    status, mapped = post("api_math_map_workload_to_gpu", "/math/map-workload-to-gpu", body, deps)
    assert status == 200, mapped
    by_model = {p["gpu_model"]: p for p in mapped["plans"] + mapped["infeasible"]}
    for model in ("H100-SXM", "A100-80GB"):
        plan = by_model[model]
        assert plan["gpus_needed"] == 2 and plan["reason"] in (None, "no_offers"), plan
        assert plan["metrics"]["tensor_parallel"] == 2
    assert "architecture of Llama 3 70B Instruct from the model table" in mapped["requirement"]["assumptions"]
    status, err = post("api_math_map_workload_to_gpu", "/math/map-workload-to-gpu", body | {"model": "nonesuch"}, deps)
    assert status == 422 and [d["loc"][-2:] for d in err["error"]["details"]] == [["llm_inference", "model"]]
