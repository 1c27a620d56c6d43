"""The rules parser's conventions, one reader at a time, and the map-workload request it builds."""

from __future__ import annotations

import pytest

from gpubroker.domain.workloads import ImageGeneration, LlmInference, Training
from gpubroker.services.assistant import parse_workload, to_workload_request
from gpubroker.services.assistant.parse_rules import USD_PER, parse_spec


@pytest.mark.parametrize(
    ("text", "usd", "period", "currency"),
    [
        ("under $50", 50.0, "total", "USD"),
        ("50 dollars", 50.0, "total", "USD"),
        ("under 2 bucks an hour", 2.0, "hour", "USD"),
        ("€200", 200 * USD_PER["EUR"], "total", "EUR"),
        ("£3.50/hr", 3.5 * USD_PER["GBP"], "hour", "GBP"),
        ("max 1,200 EUR per month", 1200 * USD_PER["EUR"], "month", "EUR"),
        ("$5k total", 5000.0, "total", "USD"),
        ("budget: 300", 300.0, "total", "USD"),
        ("10 usd per gpu hour", 10.0, "hour", "USD"),
        ("hourly budget of $4", 4.0, "hour", "USD"),
        ("50 CHF a day", 50 * USD_PER["CHF"], "day", "CHF"),
    ],
)
def test_budgets(text: str, usd: float, period: str, currency: str) -> None:
    budget = parse_spec(text).budget_usd
    assert budget is not None
    assert budget.value == pytest.approx(usd)
    assert (budget.period, budget.currency) == (period, currency)


@pytest.mark.parametrize(
    ("text", "precision"),
    [("fp16", "fp16"), ("bf16", "bf16"), ("FP8", "fp8"), ("int8", "int8"), ("8-bit", "int8"), ("4-bit", "int4"),
     ("AWQ", "int4"), ("GPTQ", "int4"), ("Q4_K_M", "int4"), ("nf4", "int4"), ("float32", "fp32"),
     ("full precision", "fp32"), ("half precision", "fp16"), ("Q8_0", "int8")],
)  # fmt: skip
def test_precisions(text: str, precision: str) -> None:
    read = parse_spec(f"serve mistral 7b in {text}").precision
    assert read is not None and read.value == precision


def test_an_optimizer_in_8_bit_is_no_precision() -> None:
    assert parse_spec("fine-tune phi-4 on 10k rows with 8-bit adam").precision is None


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("8k context", 8192), ("32,768 tokens context", 32768), ("context length 4096", 4096), ("128k ctx", 131072),
     ("a context window of 16k", 16384), ("seq len 2048", 2048), ("1M context", 1_048_576)],
)  # fmt: skip
def test_context_lengths(text: str, tokens: int) -> None:
    read = parse_spec(f"serve llama 3 8b with {text}").context_tokens
    assert read is not None and read.value == tokens


@pytest.mark.parametrize(
    ("text", "concurrency", "rate"),
    [("8 users", 8, None), ("50 concurrent requests", 50, None), ("10 req/s", None, 10.0),
     ("120 requests per minute", None, 2.0), ("20 qps", None, 20.0), ("batch size 16", 16, None),
     ("1000 users per day", None, None)],
)  # fmt: skip
def test_concurrency_and_rates(text: str, concurrency: int | None, rate: float | None) -> None:
    spec = parse_spec(f"host llama 3 8b for {text}")
    assert (spec.concurrency.value if spec.concurrency else None) == concurrency
    assert (spec.request_rate_per_s.value if spec.request_rate_per_s else None) == rate


@pytest.mark.parametrize(
    ("text", "groups", "countries"),
    [("in the EU", ["eu"], []), ("Europe only", ["eu"], []), ("US east", ["us"], ["US"]),
     ("Frankfurt", ["eu"], ["DE"]), ("in Germany", ["eu"], ["DE"]), ("Tokyo or Singapore", ["asia"], ["JP", "SG"]),
     ("us-east-1", ["us"], ["US"]), ("eu-west-1", ["eu"], ["IE"]), ("in the UK", ["eu"], ["GB"]),
     ("in South America", ["sa"], [])],
)  # fmt: skip
def test_regions(text: str, groups: list[str], countries: list[str]) -> None:
    region = parse_spec(f"serve llama 3 8b {text}").region
    assert region is not None and region.value == groups and region.countries == countries


@pytest.mark.parametrize("text", ["let us know", "send me 80 GB of data", "run it on a GPU", "tell us what fits"])
def test_ordinary_words_are_no_region(text: str) -> None:
    assert parse_spec(text).region is None


@pytest.mark.parametrize(
    ("text", "tags"),
    [("GDPR compliant", ["eu-data-residency"]), ("data must stay in the EU", ["eu-data-residency"]),
     ("HIPAA", ["secure-cloud"]), ("SOC 2 type II", ["secure-cloud"]), ("bare metal", ["dedicated-host"]),
     ("SOC2 and GDPR", ["eu-data-residency", "secure-cloud"])],
)  # fmt: skip
def test_compliance(text: str, tags: list[str]) -> None:
    read = parse_spec(f"serve llama 3 8b, {text}").compliance
    assert read is not None and read.value == tags


def test_a_named_llm_maps_with_its_architecture() -> None:
    answer = parse_workload("serve Qwen2.5 7B at 4k context for 8 users, fp8")
    assert isinstance(answer.workload, LlmInference)
    w = answer.workload
    assert (w.params_b, w.n_layers, w.hidden, w.n_kv_heads, w.head_dim) == (7.62, 28, 3584, 4, 128)
    assert (w.context_tokens, w.concurrency, w.precision) == (4096, 8, "fp8")


def test_gemma_7b_kv_heads_are_capped_to_the_request_rule() -> None:
    answer = parse_workload("serve gemma 7b")
    assert isinstance(answer.workload, LlmInference)
    assert answer.workload.n_kv_heads * answer.workload.head_dim <= answer.workload.hidden  # type: ignore[operator]
    assert any("capped" in a for a in answer.assumptions)


def test_fine_tuning_maps_to_a_training_request() -> None:
    answer = parse_workload("QLoRA fine-tune llama 3 8b on 20k examples for 2 epochs on 2 GPUs")
    assert isinstance(answer.workload, Training)
    w = answer.workload
    assert (w.method, w.precision, w.epochs, w.gpu_count) == ("qlora", "bf16", 2.0, 2)
    assert w.dataset_tokens_b == pytest.approx(20_000 * 512 / 1e9)


def test_an_image_request_maps_family_size_and_steps() -> None:
    answer = parse_workload("generate 1000 images with flux schnell at 1024x768, 4 steps, within 3 hours")
    assert isinstance(answer.workload, ImageGeneration)
    w = answer.workload
    assert (w.model_family, w.images, w.width, w.height, w.steps, w.deadline_hours) == (
        "flux-schnell", 1000, 1024, 768, 4, 3.0,
    )  # fmt: skip


def test_missing_fields_name_the_first_question() -> None:
    answer = parse_workload("generate some images with sdxl")
    assert answer.missing == ["quantity"] and answer.question == "How many images do you need to generate?"
    assert to_workload_request(answer.spec) == (None, [])


def test_the_parser_is_deterministic() -> None:
    text = "Serve Llama 3 70B to 50 users, 8k context, fp16, under $10/hr, EU, GDPR"
    assert parse_workload(text) == parse_workload(text)


@pytest.mark.parametrize(
    "text",
    ["9" * 400 + " users", "9" * 400 + "k context", "$" + "9" * 400, "9" * 400 + " images",
     "train a " + "9" * 400 + "b model", "serve a " + "9" * 400 + "b model at " + "9" * 400 + " req/s",
     "9" * 300 + " GB dedupe", "generate 5 images at 0x0", "generate 0 images", "serve 3000b model",
     "transcode 1 minute of video at 99999x99999"],
)  # fmt: skip
def test_absurd_numbers_are_bounded_never_a_crash(text: str) -> None:
    answer = parse_workload(text)
    assert answer.workload is None or answer.missing == []
    answer.model_dump_json()  # finite numbers only: the answer is valid JSON
