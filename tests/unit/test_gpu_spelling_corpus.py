"""The spelling corpus: real GPU spellings seen in public sources, and the one GPU (or none) each names.

`tests/fixtures/gpu_spellings.csv` (how it was built and decided: `gpu_spellings.README.md`). Each row carries the facts
its source had (provider, instance type, memory per GPU, memory type); the resolver must use all of them before it
calls a spelling ambiguous, and must never guess: an ``ambiguous`` row raises ``ambiguous_gpu_variant``.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

from gpubroker.domain.gpus import UnknownGpu, bundled_catalog, canonical_gpu

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "gpu_spellings.csv"
COLUMNS = ["spelling", "provider", "instance_type", "memory_gb", "memory_type", "expected", "reason", "source"]
VERDICTS = {"ambiguous", "not_a_gpu"}


def _rows() -> list[dict[str, str]]:
    with CORPUS.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == COLUMNS
        return list(reader)


ROWS = _rows()


def _context(row: dict[str, str]) -> tuple[str, ...]:
    return (row["spelling"], row["provider"], row["instance_type"], row["memory_gb"], row["memory_type"])


def test_corpus_has_at_least_400_distinct_real_spellings_with_sources() -> None:
    assert len(ROWS) >= 400
    duplicates = [c for c, n in Counter(_context(r) for r in ROWS).items() if n > 1]
    assert duplicates == []  # the same spelling in the same context counts once
    assert all(r["source"].strip() for r in ROWS)
    assert all(r["spelling"] for r in ROWS)


def test_every_expected_id_is_in_the_catalog_and_every_verdict_has_a_reason() -> None:
    models = set(bundled_catalog().by_model())
    unknown = sorted({r["expected"] for r in ROWS} - models - VERDICTS)
    assert unknown == []
    assert all(r["reason"].strip() for r in ROWS if r["expected"] in VERDICTS)


def test_memory_is_per_gpu_and_plausible() -> None:
    for row in ROWS:
        if row["memory_gb"] and row["expected"] != "not_a_gpu":
            assert 4 <= float(row["memory_gb"]) <= 300, row


def test_corpus_covers_every_kind_of_answer() -> None:
    expected = Counter(r["expected"] for r in ROWS)
    assert expected["ambiguous"] >= 20 and expected["not_a_gpu"] >= 10
    # PCIe and SXM spellings of the same family land on different ids
    assert {"A100-80GB", "A100-80GB-PCIe", "A100-40GB", "A100-40GB-PCIe", "H100-SXM", "H100-PCIe", "H100-NVL"} <= set(
        expected
    )


def _facts(row: dict[str, str]) -> dict[str, Any]:
    facts: dict[str, Any] = {"provider": row["provider"], "instance_type": row["instance_type"]}
    if row["memory_gb"]:
        facts["memory_gb"] = float(row["memory_gb"])
    if row["memory_type"]:
        facts["memory_type"] = row["memory_type"]
    return facts


def _verdict(row: dict[str, str]) -> str:
    try:
        return canonical_gpu(row["spelling"], **_facts(row))
    except UnknownGpu as err:
        return {"ambiguous_gpu_variant": "ambiguous"}.get(err.reason, err.reason)
    except TypeError as err:  # a fact the resolver does not take yet (memory_type)
        return f"TypeError: {err}"


def test_every_spelling_resolves_as_the_corpus_says() -> None:
    wrong = [
        f"{r['spelling']!r} {_facts(r)} -> {got} (expected {r['expected']}: {r['source']})"
        for r in ROWS
        if (got := _verdict(r)) != r["expected"]
    ]
    assert wrong == [], f"{len(wrong)} of {len(ROWS)} rows:\n" + "\n".join(wrong[:60])
