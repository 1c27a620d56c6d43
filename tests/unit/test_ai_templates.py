"""The guided templates (issue 13 §4): the data, each validation rule, and every template's defaults alone giving a
spec the mapping accepts and at least one GPU that fits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from pydantic import TypeAdapter

from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.models import model_table
from gpubroker.domain.templates import (
    FEEDS,
    InvalidAnswers,
    Question,
    Template,
    TemplateNotFound,
    template_named,
    templates,
    validate_answers,
)
from gpubroker.domain.workload_spec import WorkloadSpec
from gpubroker.domain.workloads import WorkloadRequest
from gpubroker.services.assistant import parse_workload
from gpubroker.services.assistant.templates import TemplateAnswer, answer_template

NAMES = ["image-generation", "llm-inference", "model-training", "video-processing", "data-processing"]
SPECS = bundled_catalog().gpus
PRICES = {g.model: (2.0, f"fake-{i:016x}") for i, g in enumerate(SPECS)}  # every GPU model at $2/GPU-hour
REQUEST: TypeAdapter[WorkloadRequest] = TypeAdapter(WorkloadRequest)


def answer(name: str, answers: dict[str, Any] | None = None) -> TemplateAnswer:
    return answer_template(template_named(name), answers or {}, specs=SPECS, prices_in=lambda region: PRICES)


def refused(name: str, answers: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(InvalidAnswers) as caught:
        answer(name, answers)
    assert caught.value.code == "validation_error"
    details: list[dict[str, Any]] = caught.value.details
    return details


def test_the_five_templates_in_order() -> None:
    assert list(templates()) == NAMES
    kinds = {t.workload_type for t in templates().values()}
    assert kinds == {"image_generation", "llm_inference", "training", "video_processing", "data_processing"}


@pytest.mark.parametrize("name", NAMES)
def test_every_question_is_well_formed(name: str) -> None:
    template = template_named(name)
    ids = [q.id for q in template.questions]
    assert len(ids) == len(set(ids)) >= 8
    for q in template.questions:
        assert q.feeds in FEEDS and q.prompt.endswith("?") and q.help
        if q.type in ("choice", "model"):
            assert q.choices, q.id
        if q.type == "model":
            table = {m.name for m in model_table().models if m.kind in q.model_kinds}
            assert {c.value for c in q.choices} == table
    assert {q.type for t in templates().values() for q in t.questions} == {
        "choice", "number", "integer", "text", "boolean", "model"
    } - {"text"}  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_the_defaults_alone_give_a_spec_the_mapping_accepts_and_a_gpu_that_fits(name: str) -> None:
    got = answer(name)
    template = template_named(name)
    assert set(got.answers) == {q.id for q in template.questions if q.default is not None}
    assert WorkloadSpec.model_validate(got.spec.model_dump()) == got.spec
    assert got.spec.workload_type is not None and got.spec.workload_type.value == template.workload_type
    # the workload is the map route's own request: it round-trips through the route's body model
    assert REQUEST.validate_python(got.workload.model_dump()).model_dump() == got.workload.model_dump()
    assert got.mapping.plans, got.mapping.infeasible
    plan = got.mapping.plans[0]
    assert plan.feasible and plan.est_hours is not None and plan.est_cost_usd is not None
    assert plan.price_per_gpu_hour == 2.0 and got.mapping.priced


def test_the_llm_template_builds_what_the_parser_builds_from_the_same_words() -> None:
    """One model: the template's request equals the rules parser's for a sentence stating the same answers."""
    got = answer("llm-inference", {"model": "Llama 3.1 70B", "concurrency": 16, "context_tokens": 8192})
    parsed = parse_workload("Serve Llama 3.1 70B in fp16 to 16 concurrent users with an 8k context")
    assert parsed.workload is not None
    assert got.workload.model_dump() == parsed.workload.model_dump()
    assert got.spec.model is not None and parsed.spec.model is not None
    assert got.spec.model.value == parsed.spec.model.value == "Llama 3.1 70B"
    assert (got.workload.n_layers, got.workload.n_kv_heads) == (80, 8)  # type: ignore[union-attr]


def test_a_model_named_tolerantly_or_unknown_with_its_size() -> None:
    got = answer("llm-inference", {"model": "mixtral 8x7b instruct"})
    assert got.spec.model is not None and got.spec.model.value == "Mixtral 8x7B"
    got = answer("llm-inference", {"model": "my-private-model", "model_params_b": 13})
    assert got.spec.model is None and got.workload.params_b == 13  # type: ignore[union-attr]
    assert any("not in the table" in a for a in got.assumptions)
    [detail] = refused("llm-inference", {"model": "my-private-model"})
    assert detail["loc"] == ["answers", "model"] and detail["type"] == "choice"
    # an image model is not an LLM
    [detail] = refused("llm-inference", {"model": "SDXL 1.0"})
    assert detail["loc"] == ["answers", "model"]


@pytest.mark.parametrize(
    ("name", "answers", "field", "rule"),
    [
        ("llm-inference", {"nonsense": 1}, "nonsense", "unknown_question"),
        ("llm-inference", {"concurrency": "eight"}, "concurrency", "type"),
        ("llm-inference", {"concurrency": 2.5}, "concurrency", "type"),
        ("llm-inference", {"concurrency": True}, "concurrency", "type"),
        ("llm-inference", {"concurrency": 0}, "concurrency", "min"),
        ("llm-inference", {"context_tokens": 2_000_000}, "context_tokens", "max"),
        ("llm-inference", {"precision": "fp64"}, "precision", "choice"),
        ("llm-inference", {"model": "<script>"}, "model", "pattern"),
        ("llm-inference", {"model": 70}, "model", "type"),
        ("llm-inference", {"model": "x" * 201}, "model", "max_length"),
        ("model-training", {"gradient_checkpointing": "yes"}, "gradient_checkpointing", "type"),
        ("video-processing", {"scale": 3}, "scale", "choice"),
        ("image-generation", {"resolution": "1000x1000"}, "resolution", "choice"),
        ("data-processing", {"dataset_gb": -1}, "dataset_gb", "min"),
    ],
)
def test_each_rule_is_a_422_naming_the_question(name: str, answers: dict[str, Any], field: str, rule: str) -> None:
    details = refused(name, answers)
    assert {"loc": ["answers", field], "type": rule} == {k: details[0][k] for k in ("loc", "type")}
    assert details[0]["msg"]


def test_every_broken_rule_is_listed() -> None:
    details = refused("llm-inference", {"concurrency": 0, "precision": "fp64", "bogus": 1})
    assert sorted(d["loc"][1] for d in details) == ["bogus", "concurrency", "precision"]


def test_a_required_question_without_an_answer_or_default() -> None:
    template = Template(name="t", title="t", description="t", workload_type="image_generation", questions=[
        Question(id="images", type="integer", prompt="How many?", validation={"required": True, "min": 1},
                 help="h", feeds="spec.quantity:images"),
        Question(id="steps", type="integer", prompt="Steps?", help="h", feeds="spec.quality.steps"),
    ])  # fmt: skip
    with pytest.raises(InvalidAnswers) as caught:
        validate_answers(template, {})
    assert caught.value.details == [{"loc": ["answers", "images"], "type": "required", "msg": "an answer is required"}]
    assert validate_answers(template, {"images": 4.0}) == {"images": 4}  # JSON's 4.0 is an integer


def test_a_default_that_breaks_its_own_rule_is_refused_at_load() -> None:
    with pytest.raises(ValueError, match="breaks its own rules"):
        Question(id="n", type="integer", prompt="n?", default=0, validation={"min": 1}, help="h",
                 feeds="spec.concurrency")  # fmt: skip
    with pytest.raises(ValueError, match="FEEDS"):
        Question(id="n", type="integer", prompt="n?", help="h", feeds="workload.anything")


@pytest.mark.parametrize(
    ("name", "answers", "field"),
    [
        ("llm-inference", {"context_tokens": 1024, "output_tokens": 2048}, "output_tokens"),
        ("image-generation", {"images": 2, "batch": 8}, "batch"),
    ],
)
def test_a_combination_the_workload_refuses_names_the_question(name: str, answers: dict[str, Any], field: str) -> None:
    [detail] = refused(name, answers)
    assert detail["loc"] == ["answers", field] and detail["type"] == "workload"


def test_answers_reach_the_request() -> None:
    got = answer("video-processing", {"task": "upscale", "scale": 4, "minutes": 2, "fps": 24, "resolution": "1280x720"})
    w = got.workload
    assert (w.task, w.scale, w.duration_s, w.fps, w.width, w.height) == ("upscale", 4, 120.0, 24, 1280, 720)  # type: ignore[union-attr]
    got = answer("model-training", {"dataset_tokens_b": 2, "epochs": 1, "method": "full", "optimizer": "adam8bit",
                                    "gradient_checkpointing": False, "deadline_hours": 48})  # fmt: skip
    w = got.workload
    assert (w.dataset_tokens_b, w.method, w.optimizer, w.gradient_checkpointing, w.deadline_hours) == (  # type: ignore[union-attr]
        2.0, "full", "adam8bit", False, 48.0)  # fmt: skip
    got = answer("image-generation", {"model": "flux schnell", "steps": 4, "images": 500, "resolution": "896x1152"})
    w = got.workload
    assert (w.model_family, w.steps, w.images, w.width, w.height) == ("flux-schnell", 4, 500, 896, 1152)  # type: ignore[union-attr]
    got = answer("data-processing", {"task": "etl", "dataset_gb": 5000, "region": "eu"})
    assert got.workload.operation == "etl" and got.workload.dataset_gb == 5000  # type: ignore[union-attr]
    assert got.spec.region is not None and got.spec.region.value == ["eu"]


def test_budget_and_speed_preferences() -> None:
    got = answer("llm-inference", {"budget_per_hour": 0.01})
    assert got.spec.budget_usd is not None and got.spec.budget_usd.period == "hour"
    assert got.over_budget == [p.gpu_model for p in got.mapping.plans]
    assert answer("llm-inference", {"budget_per_hour": 100_000}).over_budget == []
    cheap = answer("model-training")
    fast = answer("model-training", {"optimise_for": "speed"})
    hours = [p.est_hours for p in fast.mapping.plans]
    assert hours == sorted(hours)  # type: ignore[type-var]
    costs = [p.est_cost_usd for p in cheap.mapping.plans]
    assert costs == sorted(costs)  # type: ignore[type-var]
    assert (
        len(fast.mapping.plans) + fast.mapping.more_feasible == len(cheap.mapping.plans) + cheap.mapping.more_feasible
    )


def test_the_region_answered_chooses_the_offers_that_price_the_plans() -> None:
    asked: list[list[str]] = []

    def prices_in(region: Sequence[str]) -> dict[str, tuple[float, str]]:
        asked.append(list(region))
        return {"L4": (0.5, "fake-eu-l4")} if region else PRICES

    got = answer_template(template_named("data-processing"), {"region": "eu"}, specs=SPECS, prices_in=prices_in)
    assert asked == [["eu"]]
    assert [p.gpu_model for p in got.mapping.plans] == ["L4"] and got.mapping.plans[0].offer_id == "fake-eu-l4"
    assert any(p.reason == "no_offers" for p in got.mapping.infeasible)
    answer_template(template_named("data-processing"), {}, specs=SPECS, prices_in=prices_in)
    assert asked[-1] == []  # "any": everywhere


def test_an_unknown_template_is_not_found() -> None:
    with pytest.raises(TemplateNotFound) as caught:
        template_named("quantum-annealing")
    assert caught.value.code == "template_not_found" and caught.value.details == {"templates": NAMES}
