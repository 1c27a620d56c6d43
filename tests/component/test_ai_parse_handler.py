"""POST /ai/parse-workload on real events: the answer's shape, its ``workload`` posted to
/math/map-workload-to-gpu unchanged, and bad bodies answered 4xx."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gpubroker.domain.workload_spec import MAX_TEXT_CHARS
from gpubroker.services.offer_math import OfferMathCache
from gpubroker.services.search import SnapshotCache
from gpubroker.wiring.assistant_llm import ParseDeps
from gpubroker.wiring.math import MathDeps
from tests.component.conftest import handler_module
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED, World

DEPS = ParseDeps(front_door=UNLIMITED)
PATH = "/ai/parse-workload"


def post(body: Any, *, name: str = "api_ai_parse_workload", path: str = PATH, deps: Any = DEPS,
         content_type: str | None = None) -> tuple[int, dict[str, Any]]:  # fmt: skip
    ev = rest_event(path, path)
    ev["httpMethod"] = "POST"
    ev["requestContext"]["httpMethod"] = "POST"
    ev["body"] = body if isinstance(body, str) else json.dumps(body)
    if content_type:
        ev["headers"] = {**(ev.get("headers") or {}), "Content-Type": content_type}
    res = handler_module(name).lambda_handler(ev, Ctx(), deps=deps)
    return int(res["statusCode"]), json.loads(res["body"])


def test_a_complete_request_answers_the_spec_and_a_mappable_workload(world: World) -> None:
    text = "Serve Llama 3 70B Instruct in fp16 to 16 concurrent users, 4k context, EU only, under $12/hr"
    status, answer = post({"text": text})
    assert status == 200, answer
    assert answer["engine"] == "rules"
    spec = answer["spec"]
    assert spec["workload_type"]["value"] == "llm_inference"
    assert spec["model"]["value"] == "Llama 3 70B"
    assert spec["budget_usd"] == {"value": 12.0, "period": "hour", "amount": 12.0, "currency": "USD",
                                  "confidence": spec["budget_usd"]["confidence"]}  # fmt: skip
    assert all(0 <= field["confidence"] <= 1 for field in spec.values() if field)
    assert answer["missing"] == [] and answer["question"] is None
    workload = answer["workload"]
    assert workload["type"] == "llm_inference"
    assert (workload["n_layers"], workload["hidden"], workload["n_kv_heads"], workload["head_dim"]) == (
        80,
        8192,
        8,
        128,
    )
    # the same body, unchanged, is a valid map-workload request
    math = MathDeps(offers=OfferMathCache(SnapshotCache(world.snapshots, ttl_s=60).current), front_door=UNLIMITED)
    status, mapped = post(workload, name="api_math_map_workload_to_gpu", path="/math/map-workload-to-gpu", deps=math)
    assert status == 200, mapped
    assert mapped["requirement"]["type"] == "llm_inference"


def test_the_named_models_architecture_sizes_the_kv_cache(world: World) -> None:
    """Issue 13: a named model's estimate uses its real architecture: Llama 3.1 70B's 80 layers x 8 KV heads x 128
    cache 2 x 80 x 8 x 128 x 2 bytes per token (0.33 MB), far below the shape guessed from 70B alone."""
    status, answer = post({"text": "llama 3.1 70b fp16, 4096 token context, 8 concurrent users on 2 H100s"})
    assert status == 200 and answer["workload"]["gpu_count"] == 2
    math = MathDeps(offers=OfferMathCache(SnapshotCache(world.snapshots, ttl_s=60).current), front_door=UNLIMITED)
    status, mapped = post(answer["workload"], name="api_math_map_workload_to_gpu", path="/math/map-workload-to-gpu",
                          deps=math)  # fmt: skip
    assert status == 200, mapped
    kv = {k: v for k, v in mapped["requirement"]["memory_breakdown_gb"].items() if "kv" in k}
    assert kv and sum(kv.values()) == pytest.approx(2 * 80 * 8 * 128 * 2 * 4096 * 8 / 1e9, rel=1e-3)


def test_missing_fields_come_with_one_question() -> None:
    status, answer = post({"text": "I need to fine-tune something on my data"})
    assert status == 200
    assert answer["workload"] is None
    assert answer["missing"][0] == "model_params_b"
    assert answer["question"].endswith("?")


def test_nothing_useful_is_still_an_answer() -> None:
    status, answer = post({"text": "   hello there   "})
    assert status == 200
    assert answer["missing"] == ["workload_type"] and answer["workload"] is None
    assert answer["spec"]["workload_type"] is None


@pytest.mark.parametrize(
    "body",
    [{"text": ""}, {"text": "x" * (MAX_TEXT_CHARS + 1)}, {}, {"text": 5}, {"text": "ok", "extra": 1}, {"text": None}],
)
def test_bad_bodies_are_422(body: dict[str, Any]) -> None:
    status, answer = post(body)
    assert status == 422, answer
    assert answer["error"]["code"] == "validation_error"


def test_the_longest_text_is_parsed() -> None:
    text = ("serve mistral 7b to 8 users in Germany. " * 60)[:MAX_TEXT_CHARS]
    status, answer = post({"text": text})
    assert status == 200 and answer["spec"]["model"]["value"] == "Mistral 7B"


def test_not_json_is_415_and_not_an_object_422() -> None:
    assert post("text=hi", content_type="application/x-www-form-urlencoded")[0] == 415
    assert post("[1, 2]")[0] == 422


def test_a_complete_request_beyond_the_estimators_bounds_gets_a_question() -> None:
    status, answer = post({"text": "transcode 500 hours of 4k video to h265 by tomorrow"})
    assert status == 200
    assert answer["missing"] == [] and answer["workload"] is None
    assert "duration_s" in answer["question"] and answer["spec"]["quantity"] == {
        "value": 30000.0, "unit": "minutes", "confidence": answer["spec"]["quantity"]["confidence"]
    }  # fmt: skip
