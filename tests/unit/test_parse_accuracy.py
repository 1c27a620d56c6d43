"""Field-level accuracy of the rules parser on the request sets in tests/fixtures/assistant/.

``parse_cases.jsonl`` is the set the rules were tuned on (>= 95% asserted); ``parse_cases_heldout.jsonl`` was
written before any tuning and is never tuned against (>= 85% asserted). A case's fields are those its expectation
names plus those the parser returned: a field is right when both agree, wrong when they differ or only one side
has it. A named model's ``model_params_b`` is the table's, so an expectation naming a model implies it.
Per field: precision = right / returned, recall = right / expected.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gpubroker.domain.models import model_named
from gpubroker.domain.workload_spec import WorkloadSpec
from gpubroker.services.assistant.parse_rules import parse_spec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "assistant"
FIELDS = ("workload_type", "model", "model_params_b", "precision", "context_tokens", "concurrency",
          "request_rate_per_s", "quantity", "gpu_count", "duration_hours", "deadline_hours", "quality", "region",
          "budget_usd", "compliance", "task", "method", "epochs")  # fmt: skip


def load(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


def compact(spec: WorkloadSpec) -> dict[str, Any]:
    """The spec in the fixtures' notation."""
    out: dict[str, Any] = {}
    for name in FIELDS:
        read = getattr(spec, name)
        if read is None:
            continue
        if name == "quantity":
            out[name] = [read.value, read.unit]
        elif name == "budget_usd":
            out[name] = [read.value, read.period]
        elif name == "quality":
            out[name] = {k: v for k, v in read.model_dump(exclude={"confidence"}).items() if v is not None}
        else:
            out[name] = read.value
    return out


def expected_of(case: dict[str, Any]) -> dict[str, Any]:
    exp = dict(case["expected"])
    if "model" in exp and "model_params_b" not in exp:
        exp["model_params_b"] = model_named(exp["model"]).params_b
    return exp


def same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=0.01)
    if isinstance(a, list) and isinstance(b, list):
        if all(isinstance(x, str) for x in a + b):
            return sorted(a) == sorted(b)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def score(cases: list[dict[str, Any]]) -> tuple[float, dict[str, tuple[int, int, int]], list[str]]:
    """Accuracy over all fields, per field (right, returned, expected), and the mismatches."""
    right = total = 0
    per: dict[str, Counter[str]] = {f: Counter() for f in FIELDS}
    misses: list[str] = []
    for case in cases:
        got = compact(parse_spec(case["text"]))
        exp = expected_of(case)
        for name in FIELDS:
            if name not in got and name not in exp:
                continue
            total += 1
            per[name]["returned"] += name in got
            per[name]["expected"] += name in exp
            if name in got and name in exp and same(got[name], exp[name]):
                right += 1
                per[name]["right"] += 1
            else:
                misses.append(f"{case['id']} {name}: got {got.get(name)!r}, expected {exp.get(name)!r}")
    table = {f: (c["right"], c["returned"], c["expected"]) for f, c in per.items()}
    return (right / total if total else 1.0), table, misses


def report(title: str, accuracy: float, table: dict[str, tuple[int, int, int]], misses: list[str]) -> str:
    lines = [f"{title}: field-level accuracy {accuracy:.1%}", f"{'field':<20}{'precision':>10}{'recall':>10}{'n':>6}"]
    for name, (right, returned, expected) in table.items():
        if returned or expected:
            p = right / returned if returned else 1.0
            r = right / expected if expected else 1.0
            lines.append(f"{name:<20}{p:>10.1%}{r:>10.1%}{expected:>6}")
    lines += [f"  miss: {m}" for m in misses]
    return "\n".join(lines)


def test_the_tuned_set_is_at_least_95_percent_right(capsys: pytest.CaptureFixture[str]) -> None:
    cases = load("parse_cases.jsonl")
    assert len(cases) >= 150
    accuracy, table, misses = score(cases)
    with capsys.disabled():
        print("\n" + report(f"tuned set ({len(cases)} requests)", accuracy, table, misses))
    assert accuracy >= 0.95


def test_the_held_out_set_is_at_least_85_percent_right(capsys: pytest.CaptureFixture[str]) -> None:
    cases = load("parse_cases_heldout.jsonl")
    assert len(cases) >= 20
    accuracy, table, misses = score(cases)
    with capsys.disabled():
        print("\n" + report(f"held-out set ({len(cases)} requests, never tuned on)", accuracy, table, misses))
    assert accuracy >= 0.85


def test_the_two_sets_share_no_request() -> None:
    tuned = {c["text"].casefold() for c in load("parse_cases.jsonl")}
    assert not tuned & {c["text"].casefold() for c in load("parse_cases_heldout.jsonl")}


def test_every_expectation_names_known_fields_and_models() -> None:
    for case in load("parse_cases.jsonl") + load("parse_cases_heldout.jsonl"):
        assert set(case["expected"]) <= set(FIELDS), case["id"]
        if "model" in case["expected"]:
            model_named(case["expected"]["model"])
