"""Property "natural language workload extraction": sentences built from templates with random values (a model
from the table under one of its names, a size, a quantity and its unit, a budget in some currency, a region) are
read back with exactly those values."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from gpubroker.domain.models import OpenModel, model_table
from gpubroker.domain.workload_spec import MAX_TEXT_CHARS
from gpubroker.services.assistant import parse_workload
from gpubroker.services.assistant.parse_rules import USD_PER, parse_spec

LLMS = [m for m in model_table().models if m.kind == "llm"]
IMAGES = [m for m in model_table().models if m.kind == "image"]
REGIONS = [("Germany", "eu"), ("Frankfurt", "eu"), ("the EU", "eu"), ("Europe", "eu"), ("the US", "us"),
           ("Texas", "us"), ("US east", "us"), ("Japan", "asia"), ("Singapore", "asia"), ("Canada", "na"),
           ("Brazil", "sa"), ("Australia", "oceania"), ("London", "eu"), ("Paris", "eu"), ("Asia", "asia")]  # fmt: skip
CURRENCY = [("${}", "USD"), ("{} USD", "USD"), ("{} dollars", "USD"), ("€{}", "EUR"), ("{} euros", "EUR"),
            ("£{}", "GBP")]  # fmt: skip
PER_HOUR = ["/hr", " per hour", " an hour", "/h"]
LLM_VERBS = ["Serve", "Host", "Deploy", "I want to serve", "Run inference on", "We need an endpoint for"]


def spelling(model_strategy: st.SearchStrategy[OpenModel]) -> st.SearchStrategy[tuple[OpenModel, str]]:
    return model_strategy.flatmap(lambda m: st.sampled_from([m.name, *m.aliases]).map(lambda s: (m, s)))


def amount() -> st.SearchStrategy[float]:
    return st.one_of(st.integers(1, 20_000).map(float), st.integers(10, 99_999).map(lambda c: c / 100))


def fmt_amount(x: float) -> str:
    return f"{x:,.0f}" if x.is_integer() else f"{x:.2f}"


@settings(max_examples=150, deadline=None)
@given(
    named=spelling(st.sampled_from(LLMS)),
    verb=st.sampled_from(LLM_VERBS),
    users=st.integers(1, 4096),
    ctx_k=st.sampled_from([2, 4, 8, 16, 32, 64, 128]),
    region=st.sampled_from(REGIONS),
    money=st.tuples(amount(), st.sampled_from(CURRENCY), st.sampled_from(PER_HOUR)),
)
def test_llm_requests_are_read_back(
    named: tuple[OpenModel, str],
    verb: str,
    users: int,
    ctx_k: int,
    region: tuple[str, str],
    money: tuple[float, tuple[str, str], str],
) -> None:
    model, name = named
    value, (pattern, currency), per = money
    text = (f"{verb} {name} with {ctx_k}k context for {users} concurrent users in {region[0]}, "
            f"budget {pattern.format(fmt_amount(value))}{per}")  # fmt: skip
    spec = parse_spec(text)
    assert spec.workload_type is not None and spec.workload_type.value == "llm_inference", text
    assert spec.model is not None and spec.model.value == model.name, text
    assert spec.model_params_b is not None and spec.model_params_b.value == model.params_b
    assert spec.context_tokens is not None and spec.context_tokens.value == ctx_k * 1024, text
    assert spec.concurrency is not None and spec.concurrency.value == users, text
    assert spec.region is not None and spec.region.value == [region[1]], text
    assert spec.budget_usd is not None and spec.budget_usd.period == "hour", text
    assert math.isclose(spec.budget_usd.value, round(value * USD_PER[currency], 4), rel_tol=1e-9), text
    answer = parse_workload(text)
    assert answer.workload is not None and answer.missing == [] and answer.question is None


@settings(max_examples=100, deadline=None)
@given(
    named=spelling(st.sampled_from(IMAGES)),
    images=st.integers(1, 5_000_000),
    comma=st.booleans(),
    days=st.integers(1, 60),
    money=st.tuples(amount(), st.sampled_from(CURRENCY)),
    region=st.sampled_from(REGIONS),
)
def test_image_requests_are_read_back(
    named: tuple[OpenModel, str],
    images: int,
    comma: bool,
    days: int,
    money: tuple[float, tuple[str, str]],
    region: tuple[str, str],
) -> None:
    model, name = named
    value, (pattern, currency) = money
    count = f"{images:,}" if comma else str(images)
    budget = pattern.format(fmt_amount(value))
    text = f"generate {count} images with {name} within {days} days in {region[0]}, {budget} total"
    spec = parse_spec(text)
    assert spec.workload_type is not None and spec.workload_type.value == "image_generation", text
    assert spec.model is not None and spec.model.value == model.name, text
    assert spec.quantity is not None and (spec.quantity.value, spec.quantity.unit) == (images, "images"), text
    assert spec.deadline_hours is not None and spec.deadline_hours.value == days * 24, text
    assert spec.region is not None and spec.region.value == [region[1]], text
    assert spec.budget_usd is not None and spec.budget_usd.period == "total", text
    assert math.isclose(spec.budget_usd.value, round(value * USD_PER[currency], 4), rel_tol=1e-9), text
    workload = parse_workload(text).workload
    assert workload is not None and workload.type == "image_generation"


UNITS = [("tokens", "tokens", 1.0), ("B tokens", "tokens", 1e9), ("M tokens", "tokens", 1e6), ("GB of text", "gb", 1.0),
         ("TB of text", "gb", 1000.0), ("examples", "rows", 1.0), ("k rows", "rows", 1e3)]  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(
    size=st.one_of(st.integers(1, 400).map(float), st.sampled_from([0.5, 1.5, 2.7, 6.7, 13.0])),
    n=st.integers(1, 900),
    unit=st.sampled_from(UNITS),
    gpus=st.integers(1, 512),
    verb=st.sampled_from(["fine-tune", "train"]),
)
def test_training_sizes_quantities_and_gpus_are_read_back(
    size: float, n: int, unit: tuple[str, str, float], gpus: int, verb: str
) -> None:
    words, kind, scale = unit
    size_text = f"{size:g}B"
    text = f"{verb} a {size_text} model on {n} {words} with {gpus} GPUs"
    spec = parse_spec(text)
    assert spec.workload_type is not None
    assert spec.workload_type.value == ("fine_tuning" if verb == "fine-tune" else "training"), text
    assert spec.model_params_b is not None and spec.model_params_b.value == size, text
    assert spec.quantity is not None and spec.quantity.unit == kind, text
    assert math.isclose(spec.quantity.value, n * scale, rel_tol=1e-9), text
    assert spec.gpu_count is not None and spec.gpu_count.value == gpus, text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=MAX_TEXT_CHARS))
def test_any_text_gets_an_answer(text: str) -> None:
    """Never an exception: any string up to the limit is parsed, and a workload is only offered complete."""
    answer = parse_workload(text)
    assert answer.workload is None or not answer.missing
    assert (answer.question is None) == (answer.workload is not None)
