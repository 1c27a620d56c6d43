"""The open-model table (gpubroker/data/models.json) and tolerant model-name matching."""

from __future__ import annotations

import pytest

from gpubroker.domain.models import OpenModel, match_model, model_named, model_table, name_tokens

MODELS = model_table().models


def test_the_table_has_80_models_each_with_a_source() -> None:
    assert len(MODELS) >= 80
    assert len({m.name for m in MODELS}) == len(MODELS)
    for m in MODELS:
        assert m.source.startswith(("https://huggingface.co/", "https://arxiv.org/")), m.name
        assert m.aliases, m.name


@pytest.mark.parametrize("model", [m for m in MODELS if m.kind == "llm"], ids=lambda m: m.name)
def test_language_models_carry_a_consistent_architecture(model: OpenModel) -> None:
    assert model.num_layers and model.hidden_size and model.num_attention_heads and model.num_kv_heads
    assert model.head_dim and model.vocab_size and model.max_context
    assert model.num_attention_heads % model.num_kv_heads == 0 or model.num_kv_heads == 1  # GQA groups
    if model.active_params_b is not None:
        assert 0 < model.active_params_b < model.params_b
    # the parameter count is within a factor of 2 of 12 L d^2 + embeddings (dense) or at least that (MoE)
    dense = 12 * model.num_layers * model.hidden_size**2 / 1e9
    assert dense / 2.5 < (model.active_params_b or model.params_b) < dense * 4 + 3, model.name


@pytest.mark.parametrize(
    ("name", "layers", "hidden", "heads", "kv", "head_dim"),
    [
        ("Llama 3 70B", 80, 8192, 64, 8, 128),
        ("Llama 3.1 405B", 126, 16384, 128, 8, 128),
        ("Llama 2 70B", 80, 8192, 64, 8, 128),
        ("Llama 2 7B", 32, 4096, 32, 32, 128),
        ("Llama 3.2 1B", 16, 2048, 32, 8, 64),
        ("Mistral 7B", 32, 4096, 32, 8, 128),
        ("Mixtral 8x7B", 32, 4096, 32, 8, 128),
        ("Qwen2.5 7B", 28, 3584, 28, 4, 128),
        ("Qwen2.5 72B", 80, 8192, 64, 8, 128),
        ("Gemma 2 9B", 42, 3584, 16, 8, 256),
        ("Falcon 7B", 32, 4544, 71, 1, 64),
    ],
)
def test_well_known_shapes(name: str, layers: int, hidden: int, heads: int, kv: int, head_dim: int) -> None:
    m = model_named(name)
    assert (m.num_layers, m.hidden_size, m.num_attention_heads, m.num_kv_heads, m.head_dim) == (
        layers, hidden, heads, kv, head_dim,
    )  # fmt: skip


def test_mixture_of_experts_have_total_and_active_parameters() -> None:
    expected = {
        "Mixtral 8x7B": (46.7, 12.9), "Mixtral 8x22B": (140.6, 39.1), "DeepSeek V3": (671, 37),
        "DeepSeek R1": (671, 37), "DeepSeek V2": (236, 21), "Qwen3 30B-A3B": (30.5, 3.3),
        "Qwen3 235B-A22B": (235, 22), "Llama 4 Scout 17B-16E": (109, 17), "Llama 4 Maverick 17B-128E": (400, 17),
    }  # fmt: skip
    for name, (total, active) in expected.items():
        m = model_named(name)
        assert (m.params_b, m.active_params_b) == pytest.approx((total, active)), name


def test_the_issue_families_are_covered() -> None:
    names = {m.name for m in MODELS}
    for needed in ["Llama 2 7B", "Llama 2 13B", "Llama 2 70B", "Llama 3 8B", "Llama 3 70B", "Llama 3.1 8B",
                   "Llama 3.1 70B", "Llama 3.1 405B", "Llama 3.2 1B", "Llama 3.2 3B", "Llama 3.2 11B Vision",
                   "Llama 3.2 90B Vision", "Llama 3.3 70B", "Mistral 7B", "Mistral Nemo 12B", "Mixtral 8x7B",
                   "Mixtral 8x22B", "Qwen2.5 0.5B", "Qwen2.5 72B", "Qwen3 8B", "DeepSeek V2", "DeepSeek V3",
                   "DeepSeek R1", "DeepSeek R1 Distill Llama 8B", "Gemma 2B", "Gemma 7B", "Gemma 2 27B",
                   "Gemma 3 27B", "Phi-2", "Phi-3 Mini", "Phi-3 Medium", "Phi-4", "Falcon 7B", "Falcon 40B",
                   "Falcon 180B", "Stable Diffusion 1.5", "SDXL 1.0", "Stable Diffusion 3 Medium", "FLUX.1 dev",
                   "FLUX.1 schnell", "Whisper tiny", "Whisper large-v3"]:  # fmt: skip
        assert needed in names, needed


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("llama3-70b", "Llama 3 70B"),
        ("Llama 3 70B Instruct", "Llama 3 70B"),
        ("meta-llama/Meta-Llama-3-70B", "Llama 3 70B"),
        ("meta-llama/Meta-Llama-3-70B-Instruct", "Llama 3 70B"),
        ("LLAMA_3_70B", "Llama 3 70B"),
        ("llama3:70b-instruct-q4_K_M", "Llama 3 70B"),
        ("llama-3.1-8b-instruct", "Llama 3.1 8B"),
        ("Llama 3.1 405B Instruct FP8", "Llama 3.1 405B"),
        ("llama3.2:3b", "Llama 3.2 3B"),
        ("Llama-3.3-70B-Instruct", "Llama 3.3 70B"),
        ("llama 2 7b chat hf", "Llama 2 7B"),
        ("Llama-2-13b-chat-hf", "Llama 2 13B"),
        ("mixtral 8x7b", "Mixtral 8x7B"),
        ("Mixtral-8x7B-Instruct-v0.1", "Mixtral 8x7B"),
        ("mistralai/Mixtral-8x22B-Instruct-v0.1", "Mixtral 8x22B"),
        ("mistral-7b-instruct-v0.3", "Mistral 7B"),
        ("Mistral-Nemo-Instruct-2407", "Mistral Nemo 12B"),
        ("qwen2.5 7b", "Qwen2.5 7B"),
        ("Qwen/Qwen2.5-72B-Instruct-AWQ", "Qwen2.5 72B"),
        ("qwen2.5:0.5b", "Qwen2.5 0.5B"),
        ("Qwen3-30B-A3B", "Qwen3 30B-A3B"),
        ("qwen3 235b a22b", "Qwen3 235B-A22B"),
        ("deepseek-ai/DeepSeek-V3", "DeepSeek V3"),
        ("DeepSeek R1", "DeepSeek R1"),
        ("deepseek-r1:70b", "DeepSeek R1 Distill Llama 70B"),
        ("DeepSeek-R1-Distill-Qwen-32B", "DeepSeek R1 Distill Qwen 32B"),
        ("gemma-2-9b-it", "Gemma 2 9B"),
        ("google/gemma-3-27b-it", "Gemma 3 27B"),
        ("gemma 7b", "Gemma 7B"),
        ("phi-3-mini-4k-instruct", "Phi-3 Mini"),
        ("Phi-3-medium-128k-instruct", "Phi-3 Medium"),
        ("microsoft/phi-4", "Phi-4"),
        ("tiiuae/falcon-40b-instruct", "Falcon 40B"),
        ("sdxl", "SDXL 1.0"),
        ("Stable Diffusion XL", "SDXL 1.0"),
        ("stabilityai/stable-diffusion-xl-base-1.0", "SDXL 1.0"),
        ("SD 1.5", "Stable Diffusion 1.5"),
        ("sd15", "Stable Diffusion 1.5"),
        ("SD3", "Stable Diffusion 3 Medium"),
        ("flux.1 dev", "FLUX.1 dev"),
        ("FLUX.1-schnell", "FLUX.1 schnell"),
        ("black-forest-labs/FLUX.1-dev", "FLUX.1 dev"),
        ("whisper large-v3", "Whisper large-v3"),
        ("openai/whisper-tiny", "Whisper tiny"),
        ("whisper large v3 turbo", "Whisper large-v3-turbo"),
        ("bge-large-en-v1.5", "BGE Large EN v1.5"),
        ("I want to serve llama 3.1 70b to 50 users", "Llama 3.1 70B"),
        ("fine-tune Lama 3 8B please", "Llama 3 8B"),
        ("gpt-oss-20b", "gpt-oss-20b"),
    ],
)
def test_spellings_match(text: str, name: str) -> None:
    found = match_model(text)
    assert found is not None and found.name == name, (text, found and found.name, name_tokens(text))


@pytest.mark.parametrize(
    "text",
    [
        "llama 3 7b",
        "a 70b model",
        "qwen 2.5 9b",
        "mistral 70b",
        "mixtral 8x3b",
        "llama 3.3 8b",
        "hello world",
        "7b",
        "phi",
        "lama",
        "the gpu",
    ],
)
def test_no_match_where_no_model_is_named(text: str) -> None:
    """Never a 7B for a 70B (or a size the family does not have), never a family word alone for a model of it."""
    assert match_model(text) is None, text


def test_seventy_is_never_read_as_seven() -> None:
    assert match_model("llama 2 70b").name == "Llama 2 70B"  # type: ignore[union-attr]
    assert match_model("llama 2 7b").name == "Llama 2 7B"  # type: ignore[union-attr]
    assert match_model("qwen2.5 72b").name == "Qwen2.5 72B"  # type: ignore[union-attr]
    assert match_model("qwen2.5 7b").name == "Qwen2.5 7B"  # type: ignore[union-attr]


def test_the_most_specific_alias_wins() -> None:
    assert match_model("DeepSeek-R1-Distill-Llama-70B").name == "DeepSeek R1 Distill Llama 70B"  # type: ignore[union-attr]
    assert match_model("sdxl turbo").name == "SDXL Turbo"  # type: ignore[union-attr]
    assert match_model("phi 3.5 moe").name == "Phi-3.5 MoE"  # type: ignore[union-attr]
