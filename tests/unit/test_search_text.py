"""How the words of ``q`` are read: field tokens, GPU phrases however people type them, memory and count words."""

from __future__ import annotations

import pytest

from gpubroker.domain.errors import ValidationFailed
from gpubroker.domain.search_text import (
    MAX_TERMS,
    allows_prefix,
    gpu_models_for_phrase,
    gpu_tokens,
    parse_query,
    tokens,
)

H100 = ("H100-SXM", "H100-PCIe", "H100-NVL", "H100-80GB-Any")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("montreal-canada-2", ("montreal", "canada", "2", "montrealcanada2")),
        ("gpu_1x_h100_sxm5", ("gpu", "1x", "h100", "sxm5", "gpu1xh100sxm5")),
        ("Germany, DE, EU", ("germany", "de", "eu", "germanydeeu")),
        ("GH200", ("gh200",)),
        ("", ()),
    ],
)
def test_field_tokens_are_whole_words(value: str, expected: tuple[str, ...]) -> None:
    assert tokens(value) == expected


def test_gpu_tokens_hold_the_id_with_and_without_brand_and_the_architecture() -> None:
    assert set(gpu_tokens("RTX-6000-Ada")) >= {"rtx", "6000", "ada", "rtx6000ada", "6000ada", "lovelace"}
    assert "h200" not in gpu_tokens("GH200")  # q=H200 must not find GH200s
    assert "ada" not in tokens("montreal-canada-2")  # q=ada must not find Canada


A100_40 = ("A100-40GB", "A100-40GB-PCIe", "A100-40GB-Any")  # a family: every board, and rows that do not say
A100_80 = ("A100-80GB", "A100-80GB-PCIe", "A100-80GB-Any")
RTX_4090 = ("RTX-4090", "RTX-4090-48GB")  # the board-modified 48 GB card is a 4090 too


@pytest.mark.parametrize(
    ("typed", "models"),
    [
        ("h100", H100),
        ("h-100", H100),
        ("H100", H100),
        ("nvidia h100", H100),
        ("h100 sxm", ("H100-SXM",)),
        ("h100 sxm5", ("H100-SXM",)),
        ("h100nvl", ("H100-NVL",)),
        ("h200", ("H200", "H200-NVL", "H200-141GB-Any")),
        ("gh200", ("GH200", "GH200-144GB")),
        ("a100", (*A100_40, *A100_80)),
        ("a10", ("A10",)),
        ("l40", ("L40",)),
        ("l40s", ("L40S",)),
        ("a6000", ("RTX-A6000",)),
        ("rtx a6000", ("RTX-A6000",)),
        ("4090", RTX_4090),
        ("rtx 4090", RTX_4090),
        ("rtx4090", RTX_4090),
        ("geforce rtx 4090", RTX_4090),
        ("rtx 6000 ada", ("RTX-6000-Ada",)),
        ("mi300", ("MI300X",)),
        ("mi300x", ("MI300X",)),
        (
            "v100",
            (
                "V100-16GB",
                "V100-16GB-FHHL",
                "V100-16GB-PCIe",
                "V100-16GB-Any",
                "V100-32GB",
                "V100-32GB-PCIe",
                "V100-32GB-Any",
            ),
        ),
        ("rtx", ()),
        ("lambda", ()),
        ("1", ()),
        ("h20", ("H20",)),  # the H20, not the H200
        ("us east 1", ()),
    ],
)
def test_gpu_phrases(typed: str, models: tuple[str, ...]) -> None:
    words = tuple(tokens(typed)[:-1] if len(tokens(typed)) > 1 else tokens(typed))
    assert set(gpu_models_for_phrase(words)) == set(models)


def test_parse_query_reads_phrases_memory_count_and_words() -> None:
    terms = parse_query("rtx 4090 24gb")
    assert [t.gpu_models for t in terms] == [RTX_4090, ()]  # 24gb narrows, as its own term
    assert terms[1].memory_gb == 24
    (ada,) = parse_query("RTX 6000 Ada")
    assert ada.gpu_models == ("RTX-6000-Ada",) and "rtx6000ada" in ada.words
    count, gpu = sorted(parse_query("8x h-100"), key=lambda t: t.gpu_count is None)
    assert count.gpu_count == 8 and set(gpu.gpu_models) == set(H100) and "h100" in gpu.words
    words = parse_query("lambda h100 in europe")
    assert [t.text for t in words] == ["lambda", "h100", "europe"]  # "in" is a filler word
    assert words[0].prefix and not words[1].prefix
    assert parse_query("gpu") == ()
    assert set(parse_query("a100 80gb")[0].gpu_models) == {*A100_40, *A100_80}  # 80gb narrows, as its own term


def test_prefix_rule() -> None:
    assert allows_prefix("frank") and allows_prefix("sxm")
    assert not allows_prefix("eu") and not allows_prefix("h20") and not allows_prefix("a10")


def test_too_many_terms_is_a_422() -> None:
    with pytest.raises(ValidationFailed):
        parse_query(" ".join(f"w{i}x" for i in range(MAX_TERMS + 1)))
