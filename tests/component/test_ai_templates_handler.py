"""GET /ai/templates, GET /ai/templates/{name} and POST /ai/templates/{name}/answers on real events: the list, the
questions, the answers' spec, workload and mapping from the live offers, and bad input as 404 and 422 naming the
question."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpubroker.api.deps import ApiDeps
from gpubroker.domain.templates import template_named
from gpubroker.services.offer_math import OfferMathCache
from gpubroker.services.search import SnapshotCache
from gpubroker.wiring.math import MathDeps
from tests.component.conftest import handler_module
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED, World

BARE = ApiDeps(front_door=UNLIMITED)
NAMES = ["image-generation", "llm-inference", "model-training", "video-processing", "data-processing"]


@pytest.fixture(scope="module")
def math(world: World) -> MathDeps:
    return MathDeps(offers=OfferMathCache(SnapshotCache(world.snapshots, ttl_s=60).current), front_door=UNLIMITED)


def call(name: str, method: str, resource: str, path: str, *, params: dict[str, str] | None = None,
         body: Any = None, deps: Any = BARE) -> tuple[int, dict[str, Any]]:  # fmt: skip
    ev = rest_event(resource, path, path_params=params)
    ev["httpMethod"] = method
    ev["requestContext"]["httpMethod"] = method
    if body is not None:
        ev["body"] = body if isinstance(body, str) else json.dumps(body)
    res = handler_module(name).lambda_handler(ev, Ctx(), deps=deps)
    return int(res["statusCode"]), json.loads(res["body"])


def get_template(name: str) -> tuple[int, dict[str, Any]]:
    return call("api_ai_get_template", "GET", "/ai/templates/{name}", f"/ai/templates/{name}", params={"name": name})


def post_answers(name: str, body: Any, deps: MathDeps) -> tuple[int, dict[str, Any]]:
    return call("api_ai_template_answers", "POST", "/ai/templates/{name}/answers", f"/ai/templates/{name}/answers",
                params={"name": name}, body=body, deps=deps)  # fmt: skip


def test_the_list() -> None:
    status, answer = call("api_ai_list_templates", "GET", "/ai/templates", "/ai/templates")
    assert status == 200, answer
    assert [t["name"] for t in answer["templates"]] == NAMES
    for t in answer["templates"]:
        assert t["title"] and t["description"] and t["questions"] >= 8


@pytest.mark.parametrize("name", NAMES)
def test_one_templates_ordered_questions(name: str) -> None:
    status, answer = get_template(name)
    assert status == 200, answer
    assert answer["name"] == name
    first = answer["questions"][0]
    assert set(first) >= {"id", "type", "prompt", "choices", "default", "unit", "validation", "help"}
    assert set(first["validation"]) == {"min", "max", "pattern", "required"}
    for q in answer["questions"]:
        if q["type"] in ("choice", "model"):
            assert all(set(c) == {"value", "label"} for c in q["choices"])


def test_llm_inference_asks_what_a_console_user_expects() -> None:
    _, answer = get_template("llm-inference")
    by_id = {q["id"]: q for q in answer["questions"]}
    assert {"model", "precision", "context_tokens", "concurrency", "requests_per_second", "optimise_for", "region",
            "budget_per_hour"} <= set(by_id)  # fmt: skip
    assert by_id["model"]["type"] == "model" and "Llama 3.1 70B" in {c["value"] for c in by_id["model"]["choices"]}
    assert {c["value"] for c in by_id["precision"]["choices"]} >= {"fp16", "fp8", "int4"}
    assert by_id["context_tokens"]["unit"] == "tokens" and by_id["context_tokens"]["default"] == 4096


def test_an_unknown_template_is_404() -> None:
    status, answer = get_template("quantum-annealing")
    assert status == 404 and answer["error"]["code"] == "template_not_found"


@pytest.mark.parametrize("name", NAMES)
def test_the_defaults_map_onto_live_offers(name: str, math: MathDeps) -> None:
    status, answer = post_answers(name, {"answers": {}}, math)
    assert status == 200, answer
    assert set(answer) >= {"template", "spec", "workload", "mapping"}
    assert answer["template"] == name and answer["mapping"]["priced"]
    plan = answer["mapping"]["plans"][0]
    assert plan["feasible"] and plan["est_hours"] > 0 and plan["est_cost_usd"] > 0 and plan["offer_id"]
    assert plan["price_per_gpu_hour"] > 0


def test_a_region_prices_the_plans_from_its_offers_only(math: MathDeps) -> None:
    from gpubroker.domain.regions import region_groups

    _, anywhere = post_answers("data-processing", {"answers": {}}, math)
    status, eu = post_answers("data-processing", {"answers": {"region": "eu"}}, math)
    assert status == 200, eu
    assert eu["spec"]["region"]["value"] == ["eu"] and eu["mapping"]["plans"]
    cheapest = {p["gpu_model"]: p["price_per_gpu_hour"] for p in anywhere["mapping"]["plans"]}
    offers = math.offers.get().cols
    region_of = dict(zip(offers.offer_id, (offers.vocab["region"][c] for c in offers.codes["region"]), strict=True))
    for plan in eu["mapping"]["plans"]:
        assert "eu" in region_groups(region_of[plan["offer_id"]])
        assert plan["price_per_gpu_hour"] >= cheapest.get(plan["gpu_model"], 0)


def test_the_workload_posts_to_the_map_route_unchanged(math: MathDeps) -> None:
    answers = {"model": "llama3-70b", "precision": "fp8", "concurrency": 32, "context_tokens": 8192}
    status, answer = post_answers("llm-inference", {"answers": answers}, math)
    assert status == 200, answer
    assert answer["spec"]["model"]["value"] == "Llama 3 70B"
    assert answer["spec"]["precision"]["value"] == "fp8"
    status, mapped = call("api_math_map_workload_to_gpu", "POST", "/math/map-workload-to-gpu",
                          "/math/map-workload-to-gpu", body=answer["workload"], deps=math)  # fmt: skip
    assert status == 200, mapped
    assert mapped == answer["mapping"]


@pytest.mark.parametrize(
    ("answers", "field", "rule"),
    [
        ({"bogus": 1}, "bogus", "unknown_question"),
        ({"concurrency": -3}, "concurrency", "min"),
        ({"precision": "fp64"}, "precision", "choice"),
        ({"model": "no such model anywhere"}, "model", "choice"),
        ({"context_tokens": 1024, "output_tokens": 4096}, "output_tokens", "workload"),
    ],
)
def test_bad_answers_are_422_naming_the_question(answers: dict[str, Any], field: str, rule: str,
                                                 math: MathDeps) -> None:  # fmt: skip
    status, answer = post_answers("llm-inference", {"answers": answers}, math)
    assert status == 422, answer
    assert answer["error"]["code"] == "validation_error"
    assert {"loc": ["answers", field], "type": rule} == {k: answer["error"]["details"][0][k] for k in ("loc", "type")}


@pytest.mark.parametrize("body", [{"answers": []}, {"answers": {"images": None}}, {"other": {}}, "[1]",
                                  {"answers": {"images": {"deep": 1}}}, {"answers": {"x" * 65: 1}}])  # fmt: skip
def test_a_body_of_the_wrong_shape_is_422(body: Any, math: MathDeps) -> None:
    status, answer = post_answers("image-generation", body, math)
    assert status == 422, answer


def test_answers_to_an_unknown_template_are_404(math: MathDeps) -> None:
    status, answer = post_answers("quantum-annealing", {"answers": {}}, math)
    assert status == 404 and answer["error"]["code"] == "template_not_found"


_VALUES = st.one_of(
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
    st.text(max_size=40),
    st.sampled_from(["any", "eu", "fp8", "int4", "qlora", "av1", "upscale", "diffusion_video", "dedupe", "speed",
                     "1024x1024", "3840x2160", "flux dev", "llama3-405b", "Whisper large-v3", "BGE-M3"]),
)  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_answers_are_a_200_or_a_422_never_a_5xx(name: str, math: MathDeps, data: st.DataObject) -> None:
    """Bad input (issue 13 §5): answers of any type and value to the template's own questions (and a stray one)
    get an answer or a 422 naming a question, never a 5xx."""
    ids = [q.id for q in template_named(name).questions] + ["stray"]
    answers = data.draw(st.dictionaries(st.sampled_from(ids), _VALUES, max_size=6))
    status, answer = post_answers(name, {"answers": answers}, math)
    assert status in (200, 422), answer
    if status == 422:
        assert all(d["loc"][0] == "answers" and d["loc"][1] in ids for d in answer["error"]["details"])
    else:
        assert answer["workload"]["type"] == template_named(name).workload_type
