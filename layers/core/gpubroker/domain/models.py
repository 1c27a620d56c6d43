"""Well-known open models (``gpubroker/data/models.json``) and reading their names the way people write them.

Each entry has its parameter count in billions and, for language models, the architecture the workload estimates
need (layers, hidden size, attention and KV heads, head dimension, vocabulary, context; total and active parameters
for mixture-of-experts), with the model card or ``config.json`` it comes from in ``source``.

Names are matched on tokens, not on characters: lower case, ``-_/:`` and spaces are separators, a letter run and a
number are separate tokens (``llama3`` -> ``llama 3``), a size keeps its unit (``70b``, ``8x7b``), and words that
never tell models apart (``instruct``, ``chat``, ``it``, ``hf``, ``meta``, the org names) are dropped. An alias
matches where its tokens occur contiguously in the text's tokens; the longest alias found wins (the most specific:
``deepseek r1 distill llama 70b`` over ``llama 70b``). ``70b`` and ``7b`` are different tokens, so a 7B never
matches where 70B was written. Pure: no I/O after the first load.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ModelKind = Literal["llm", "image", "audio", "embedding", "video"]
ImageFamilyName = Literal["sd15", "sdxl", "sd3", "flux-dev", "flux-schnell"]


class OpenModel(BaseModel):
    """One model of the table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    family: str
    kind: ModelKind
    hf_id: str
    params_b: float = Field(gt=0, description="total parameters, billions")
    active_params_b: float | None = Field(default=None, description="mixture-of-experts: parameters used per token")
    num_experts: int | None = Field(default=None, description="mixture-of-experts: routed experts per layer")
    experts_per_token: int | None = Field(default=None, description="mixture-of-experts: routed experts per token")
    num_layers: int | None = None
    hidden_size: int | None = None
    num_attention_heads: int | None = None
    num_kv_heads: int | None = None
    head_dim: int | None = None
    vocab_size: int | None = None
    max_context: int | None = None
    image_family: ImageFamilyName | None = None
    classifier_free_guidance: bool | None = Field(
        default=None, description="diffusion: sampled with classifier-free guidance (two passes per step)"
    )
    aliases: tuple[str, ...]
    source: str
    note: str | None = None

    @property
    def is_moe(self) -> bool:
        return self.active_params_b is not None


class ModelTable(BaseModel):
    model_config = ConfigDict(frozen=True)

    about: str
    models: tuple[OpenModel, ...]


# tokens that never tell models apart: tuning suffixes, packaging words, org names
_FILLER = frozenset(
    {
        "instruct", "chat", "it", "hf", "pt", "meta", "model", "models", "the", "a", "an", "gguf", "awq",
        "gptq", "exl2", "fp16", "bf16", "fp8", "int8", "int4", "mlx", "llamacpp", "ollama", "vllm",
        "mistralai", "deepseekai", "google", "microsoft", "tiiuae", "openai", "ai",
        "stabilityai", "blackforestlabs", "baai", "bigcode", "eleutherai", "thudm", "tencent", "intfloat",
        "nomicai", "cohereforai", "databricks", "allenai", "huggingfacetb", "communitytb", "openaicommunity",
    }
)  # fmt: skip
_TOKEN = re.compile(r"\d+x\d+(?:\.\d+)?b|\d+(?:\.\d+)?[bm](?![a-z])|\d+(?:\.\d+)?|[a-z]+\+?")
_ORG = re.compile(r"\b(?:meta-llama|mistralai|deepseek-ai|black-forest-labs|huggingfacetb|openai-community)/")


def name_tokens(text: str) -> tuple[str, ...]:
    """``text`` as model-name tokens (see the module docstring); fillers dropped."""
    folded = _ORG.sub(" ", text.casefold())
    folded = re.sub(r"(\d),(\d{3})", r"\1\2", folded)
    tokens = [t for t in _TOKEN.findall(folded) if t not in _FILLER]
    # "v0.1" / "v1.5" revision suffixes split into "v", "0.1": keep them (``deepseek v 3`` needs its "v")
    return tuple(tokens)


@cache
def model_table() -> ModelTable:
    """The table shipped in the core layer, parsed once per container."""
    raw = resources.files("gpubroker.data").joinpath("models.json").read_text(encoding="utf-8")
    return ModelTable.model_validate(json.loads(raw))


@cache
def _alias_index() -> tuple[tuple[tuple[str, ...], OpenModel], ...]:
    """Every alias (and each model's name and Hugging Face id) as tokens, longest first; an alias two models
    claim is a table error."""
    seen: dict[tuple[str, ...], OpenModel] = {}
    for model in model_table().models:
        for spelling in (model.name, model.hf_id.split("/")[-1], *model.aliases):
            key = name_tokens(spelling)
            if not key:
                continue
            owner = seen.get(key)
            if owner is not None and owner.name != model.name:
                raise ValueError(f"alias {spelling!r} names both {owner.name!r} and {model.name!r}")
            seen[key] = model
    return tuple(sorted(seen.items(), key=lambda kv: (-len(kv[0]), -len(" ".join(kv[0])))))


class ModelMatch(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: OpenModel
    start: int = Field(description="index of the first matched token")
    length: int = Field(description="tokens matched")


_SIZE_TOKEN = re.compile(r"^\d+(?:x\d+)?(?:\.\d+)?[bm]$")


def _contradicted(tokens: tuple[str, ...], alias: tuple[str, ...], end: int) -> bool:
    """A size-less alias (``mistral``, ``llama 3.3``) followed by a size (``mistral 70b``) names another model."""
    return not any(_SIZE_TOKEN.match(a) for a in alias) and end < len(tokens) and bool(_SIZE_TOKEN.match(tokens[end]))


def _find(tokens: tuple[str, ...], alias: tuple[str, ...]) -> int:
    n = len(alias)
    for i in range(len(tokens) - n + 1):
        if tokens[i : i + n] == alias and not _contradicted(tokens, alias, i + n):
            return i
    return -1


def _near(a: str, b: str) -> bool:
    """One typo apart: a letter missing, added, changed or two swapped (words of 4+ letters only)."""
    if a == b:
        return True
    if not (a.isalpha() and b.isalpha()) or min(len(a), len(b)) < 4 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])  # fmt: skip
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _find_near(tokens: tuple[str, ...], alias: tuple[str, ...]) -> int:
    n = len(alias)
    for i in range(len(tokens) - n + 1):
        if all(_near(t, a) for t, a in zip(tokens[i : i + n], alias, strict=True)) and not _contradicted(
            tokens, alias, i + n
        ):
            return i
    return -1


def find_model(text: str) -> ModelMatch | None:
    """The most specific model named anywhere in ``text`` (longest alias; the earliest on a tie), or None. When no
    alias occurs exactly, one whose words each occur with at most one typo (``lama 3 8b``) and which has a number
    in it (numbers are never fuzzy), so a lone misspelt family word matches nothing."""
    tokens = name_tokens(text)
    for alias, model in _alias_index():
        at = _find(tokens, alias)
        if at >= 0:
            return ModelMatch(model=model, start=at, length=len(alias))
    present = set(tokens)
    for alias, model in _alias_index():
        numbers = [t for t in alias if not t.isalpha()]
        if len(alias) >= 2 and numbers and present.issuperset(numbers):  # numbers are never fuzzy: a cheap filter
            at = _find_near(tokens, alias)
            if at >= 0:
                return ModelMatch(model=model, start=at, length=len(alias))
    return None


def match_model(text: str) -> OpenModel | None:
    """The model ``text`` names (a name, an alias, a Hugging Face id, or a sentence containing one), or None."""
    found = find_model(text)
    return found.model if found else None


def model_named(name: str) -> OpenModel:
    """The table's entry of exactly this canonical ``name`` (KeyError when absent)."""
    for model in model_table().models:
        if model.name == name:
            return model
    raise KeyError(name)
