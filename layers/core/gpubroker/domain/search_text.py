"""What the words of a search (``q``) mean: the tokens of each searchable field, and a query read into terms.

Tokens are whole words: a field value is split into lower-case runs of letters and digits (``"gpu_1x_h100_sxm5"``
-> ``gpu``, ``1x``, ``h100``, ``sxm5``; ``"montreal-canada-2"`` -> ``montreal``, ``canada``, ``2``). A query word
matches a token of a field when it is equal to it, or, for a word of three or more letters and no digit, when it
starts it (``frank`` -> ``frankfurt``, ``lambda`` -> ``lambdalabs``, ``sxm`` -> ``sxm5``). A word with a digit is a
model number or a code and must be whole: ``h20`` is not ``h200``, ``a10`` is not ``a100``, ``h200`` is not
``gh200``. No substring matching inside words: ``ada`` is not in ``canada``.

A query is read left to right into terms (all must match, AND):
- a GPU phrase: the longest run of words (at most five, with a digit somewhere) that names catalog GPUs, however
  it is spelled: ``h-100``, ``H100``, ``a6000``, ``4090``, ``rtx 4090``, ``rtx 6000 ada``, ``mi300``, ``nvidia
  h100 sxm`` (see :func:`gpu_models_for_phrase`, the one place a phrase becomes models);
- a memory word (``24gb``, ``80g``): offers whose per-GPU memory rounds to that many GB;
- a count word (``8x``): offers with that many GPUs;
- any other word, except a few filler words (``in``, ``with``, ``gpu``...) that are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from gpubroker.domain.errors import ValidationFailed
from gpubroker.domain.gpus import UnknownGpu, bundled_catalog, gpu_models_for

MAX_TERMS = 16
MIN_PREFIX = 3
MAX_PHRASE = 5

_RUNS = re.compile(r"[a-z0-9]+")
_DIGIT = re.compile(r"\d")
_MEMORY = re.compile(r"^(?P<gb>\d{1,4})(?:gb|g|gib)$")
_COUNT = re.compile(r"^(?:(?P<n>\d{1,3})x|x(?P<m>\d{1,3}))$")
# Brand words a GPU may be typed with or without: "rtx 4090" and "4090", "nvidia h100" and "h100".
BRAND_WORDS = frozenset({"nvidia", "amd", "geforce", "tesla", "quadro", "instinct", "radeon", "rtx"})
FILLER_WORDS = frozenset(
    {"a", "an", "the", "in", "at", "on", "of", "for", "with", "and", "or", "near", "gpu", "gpus", "x"}
)


@lru_cache(maxsize=65536)
def tokens(value: str) -> tuple[str, ...]:
    """A field value's tokens: its lower-case alphanumeric runs, then all of them joined (``rtx4090``) when there
    are several, so a value typed without separators still matches. Order kept, duplicates removed."""
    runs = _RUNS.findall(value.casefold())
    if len(runs) > 1:
        runs.append("".join(runs))
    return tuple(dict.fromkeys(runs))


def allows_prefix(word: str) -> bool:
    """Whether a query word may match the start of a token: three or more letters and no digit."""
    return len(word) >= MIN_PREFIX and word.isalpha()


def _stripped(runs: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(r for r in runs if r not in BRAND_WORDS)


@cache
def _catalog_runs() -> dict[str, tuple[str, ...]]:
    """Each catalog GPU's id as runs (``RTX-6000-Ada`` -> rtx, 6000, ada)."""
    return {g.model: tuple(_RUNS.findall(g.model.casefold())) for g in bundled_catalog().gpus}


@lru_cache(maxsize=4096)
def gpu_tokens(model: str) -> tuple[str, ...]:
    """Tokens of the GPU field: the id's tokens, the id joined with and without brand words (``rtx4090``,
    ``4090``), and the architecture's words (``hopper``, ``ada``, ``lovelace``)."""
    runs = tuple(_RUNS.findall(model.casefold()))
    out = [*tokens(model), "".join(_stripped(runs))]
    spec = bundled_catalog().by_model().get(model)
    if spec is not None:
        out += tokens(spec.architecture)
    return tuple(dict.fromkeys(t for t in out if t))


@cache
def _catalog_heads() -> dict[str, frozenset[str]]:
    """Each catalog GPU's id without brand words, joined over its first 1, 2, ... words: ``RTX-6000-Ada`` ->
    {6000, 6000ada}; ``H100-SXM`` -> {h100, h100sxm}."""
    out: dict[str, frozenset[str]] = {}
    for model in _catalog_runs():
        bare = _stripped(_catalog_runs()[model])
        out[model] = frozenset("".join(bare[:k]) for k in range(1, len(bare) + 1))
    return out


@lru_cache(maxsize=4096)
def gpu_models_for_phrase(words: tuple[str, ...]) -> tuple[str, ...]:
    """The catalog GPUs a phrase names (lower-case words, separators gone), every variant when it names a
    family; () when it names none. In order:

    1. the phrase without brand words, joined, equals the first words of a GPU's id joined (whole words only):
       ``h100``/``h-100``/``nvidia h100`` -> H100-SXM, H100-PCIe, H100-NVL; ``a100`` -> both A100s; ``4090`` ->
       RTX-4090; ``rtx 6000 ada`` -> RTX-6000-Ada; ``h100nvl`` -> H100-NVL; ``l40`` -> L40 (not L40S), ``a10`` -> A10;
    2. the spelling resolver's ``gpu_models_for`` (``a6000``, ``rtx4090``, ``h100 sxm5``, ``nvidia a100 80gb``);
    3. one word that a GPU id word extends by letters only (``mi300`` -> MI300X).
    """
    if not words or not any(_DIGIT.search(w) for w in words):
        return ()
    joined = "".join(_stripped(words))
    family = tuple(m for m, heads in _catalog_heads().items() if joined in heads)
    if family:
        return family
    try:
        return gpu_models_for(" ".join(words))
    except UnknownGpu:
        pass
    if len(words) == 1:
        return tuple(
            m
            for m, runs in _catalog_runs().items()
            if any(r.startswith(joined) and r[len(joined) :].isalpha() for r in _stripped(runs))
        )
    return ()


@dataclass(frozen=True)
class QueryTerm:
    """One thing the query asks for. ``words``: the forms looked up among field tokens (``prefix``: may match the
    start of a token); ``gpu_models``: the GPUs a phrase names; ``memory_gb`` / ``gpu_count``: a memory or count
    word's number."""

    text: str
    words: tuple[str, ...]
    prefix: bool = False
    gpu_models: tuple[str, ...] = ()
    memory_gb: int | None = None
    gpu_count: int | None = None


def _phrase_term(window: list[str], models: tuple[str, ...]) -> QueryTerm:
    full, bare = "".join(window), "".join(_stripped(window))
    return QueryTerm(text=" ".join(window), words=tuple(dict.fromkeys(w for w in (full, bare) if w)), gpu_models=models)


def _word_term(word: str) -> QueryTerm | None:
    memory = _MEMORY.match(word)
    if memory:
        return QueryTerm(text=word, words=(word,), memory_gb=int(memory.group("gb")))
    count = _COUNT.match(word)
    if count:
        return QueryTerm(text=word, words=(word,), gpu_count=int(count.group("n") or count.group("m")))
    if word in FILLER_WORDS:
        return None
    return QueryTerm(text=word, words=(word,), prefix=allows_prefix(word))


@lru_cache(maxsize=1024)
def parse_query(q: str) -> tuple[QueryTerm, ...]:
    """The terms of ``q`` (see the module docstring). More than ``MAX_TERMS`` terms is a 422."""
    words = _RUNS.findall(q.casefold())
    gpu_words = [w for w in words if not _MEMORY.match(w) and not _COUNT.match(w)]
    terms: list[QueryTerm] = []
    i = 0
    while i < len(gpu_words):
        for size in range(min(MAX_PHRASE, len(gpu_words) - i), 0, -1):
            window = gpu_words[i : i + size]
            models = gpu_models_for_phrase(tuple(window))
            if models:
                terms.append(_phrase_term(window, models))
                i += size
                break
        else:
            term = _word_term(gpu_words[i])
            if term is not None:
                terms.append(term)
            i += 1
    terms += [t for w in words if (_MEMORY.match(w) or _COUNT.match(w)) and (t := _word_term(w)) is not None]
    unique = tuple(dict.fromkeys(terms))
    if len(unique) > MAX_TERMS:
        raise ValidationFailed(
            f"q has {len(unique)} terms; at most {MAX_TERMS}", details={"parameter": "q", "max_terms": MAX_TERMS}
        )
    return unique
