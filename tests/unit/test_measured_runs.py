"""The reference set of measured runs (tests/fixtures/workloads/measured_runs.json) and its harness.

Checks the set's schema (every case quotes a source, names a catalog GPU, has a figure and a split; holdout cases in
every kind) and that the harness gives every case an outcome, then prints the table and the summary. Accuracy
targets are asserted at the end (the estimator's calibration: fitted on "calibration" cases only).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest

from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.models import model_named
from gpubroker.domain.precision import BYTES_PER_PARAM
from tests import workload_reference as ref

CASES = ref.load_cases()
GPU_MODELS = {spec.model for spec in bundled_catalog().gpus}
METRICS = {
    "llm_serving": {"output_tokens_per_s", "output_tokens_per_s_per_gpu", "ttft_s", "per_token_latency_s"},
    "llm_decode": {"decode_tokens_per_s"},
    "memory": {"fits", "peak_memory_gb"},
    "image": {"iterations_per_s", "seconds_per_image"},
    "video": {"seconds_per_video"},
    "training": {"training_tokens_per_s_per_gpu", "training_gpu_hours", "training_hours"},
}


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [case["id"] for case in cases]


# ---- the set -------------------------------------------------------------------------------------------------------


def test_enough_cases_with_unique_ids() -> None:
    assert len(CASES) >= 30
    duplicated = [i for i, n in Counter(_ids(CASES)).items() if n > 1]
    assert not duplicated


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_case_schema(case: dict[str, Any]) -> None:
    assert case["kind"] in ref.KINDS
    assert case["split"] in ref.SPLITS
    source = case["source"]
    assert source["url"].startswith("https://")
    assert len(source["quote"].strip()) >= 10
    hardware = case["hardware"]
    assert hardware["gpu"] in GPU_MODELS
    assert hardware["count"] is None or (isinstance(hardware["count"], int) and hardware["count"] >= 1)
    assert case["precision"] in BYTES_PER_PARAM
    assert case["engine"]
    assert isinstance(case["scenario"], dict) and case["scenario"]
    assert case["metric"] in METRICS[case["kind"]]
    measured = case["measured"]
    assert measured["unit"]
    if case["metric"] == "fits":
        assert isinstance(measured["value"], bool)
    else:
        assert not isinstance(measured["value"], bool)
        assert measured["value"] > 0


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_figure_appears_in_the_quote(case: dict[str, Any]) -> None:
    """A quantity is stored as quoted: its digits are in the quote (unit conversions are named in the notes)."""
    value = case["measured"]["value"]
    if isinstance(value, bool):
        return
    quote = case["source"]["quote"].replace(",", "")
    converted = "quoted in ms" in case.get("notes", "") or "stored as" in case.get("notes", "")
    digits = str(value) if isinstance(value, int) else f"{value:g}"
    assert converted or digits in quote


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_models_agree_with_the_model_table(case: dict[str, Any]) -> None:
    model = case["model"]
    assert model["params_b"] > 0
    try:
        known = model_named(model["name"])
    except KeyError:
        return  # not in the table (MPT, LLaMA 65B): the case carries its own size
    assert model["params_b"] == pytest.approx(known.params_b)
    moe = model.get("moe")
    if known.is_moe:
        assert moe is not None
        assert moe["total_params_b"] == pytest.approx(known.params_b)
        assert moe["active_params_b"] == pytest.approx(known.active_params_b)
    else:
        assert moe is None


def test_holdout_in_every_kind_and_about_a_quarter_of_the_set() -> None:
    holdout = Counter(case["kind"] for case in CASES if case["split"] == "holdout")
    assert set(holdout) == set(ref.KINDS)
    share = sum(holdout.values()) / len(CASES)
    assert 0.2 <= share <= 0.35


def test_measured_value_converts_gib() -> None:
    case = {"measured": {"value": 10, "unit": "GiB"}}
    assert ref.measured_value(case) == pytest.approx(10.73741824)
    assert ref.measured_value({"measured": {"value": True, "unit": "bool"}}) is True


# ---- the harness -----------------------------------------------------------------------------------------------------


def test_every_case_has_an_outcome() -> None:
    outcomes = ref.evaluate_all(CASES)
    assert _ids(CASES) == [o.case_id for o in outcomes]
    for outcome in outcomes:
        if outcome.status == "ratio":
            assert outcome.ratio is not None
            assert math.isfinite(outcome.ratio)
            assert outcome.ratio > 0
        elif outcome.status in ("right", "wrong"):
            assert isinstance(outcome.estimate, bool)
        else:
            assert outcome.estimate is None
            assert outcome.note


def test_mixture_of_experts_compute_is_expressed_from_the_active_parameters() -> None:
    """Once inexpressible (issue 14 §2): a mixture of experts now decodes at the rate of the weights a token reads,
    well above what its total parameters read densely would give."""
    moe = [c for c in CASES if c["model"].get("moe") and c["kind"] in ("llm_decode", "llm_serving")]
    assert moe
    for case in moe:
        outcome = ref.evaluate(case)
        assert outcome.status == "ratio", outcome
        body = dict(ref.map_llm_decode(case).request or {})
        dense = {k: v for k, v in body.items() if k not in ("active_params_b", "n_experts", "experts_per_token")}
        dense_rate = ref.plan_for(dense).est_tokens_per_s
        assert dense_rate is not None and isinstance(outcome.estimate, float)
        assert outcome.estimate > 2 * dense_rate


def test_summary_counts_hits_per_split() -> None:
    outcomes = ref.evaluate_all(CASES)
    summaries = {s.split: s for s in ref.summarise(outcomes)}
    assert sum(s.cases for s in summaries.values()) == len(CASES)
    for s in summaries.values():
        assert 0 <= s.within_25 <= s.within_2x <= s.cases  # ±25% is inside 2x


def test_outcome_bands() -> None:
    hit = ref.Outcome("a", "image", "holdout", "seconds_per_image", 10.0, 12.0, "ratio")
    wide = ref.Outcome("b", "image", "holdout", "seconds_per_image", 10.0, 19.0, "ratio")
    miss = ref.Outcome("c", "image", "holdout", "seconds_per_image", 10.0, 25.0, "ratio")
    right = ref.Outcome("d", "memory", "holdout", "fits", True, True, "right")
    wrong = ref.Outcome("e", "memory", "holdout", "fits", True, False, "wrong")
    none = ref.Outcome("f", "llm_decode", "holdout", "decode_tokens_per_s", 5.0, None, "inexpressible", "moe")
    assert [o.within(ref.WITHIN_25) for o in (hit, wide, miss, right, wrong, none)] == [
        True,
        False,
        False,
        True,
        False,
        False,
    ]
    assert [o.within(ref.WITHIN_2X) for o in (hit, wide, miss, right, wrong, none)] == [
        True,
        True,
        False,
        True,
        False,
        False,
    ]


def test_print_table_and_summary(capsys: pytest.CaptureFixture[str]) -> None:
    text = ref.report()
    assert all(case_id in text for case_id in _ids(CASES))
    assert "calibration" in text and "holdout" in text
    with capsys.disabled():
        print("\n" + text)


# ---- the estimator against the set (issue 14 §1 targets; calibration fitted, holdout never) ------------------------


def test_accuracy_on_the_calibration_cases_meets_the_target() -> None:
    """Targets: at least 80% within ±25% (met: 37 of 41) and 100% within 2x (41 of 41: paged optimizers, the
    optimizer step in the backward pass, pure bf16 training, FSDP traffic over the nodes' network and the engine's
    memory share describe four of the five former misses; torchtune's LoRA on an A6000 ran without activation
    checkpointing, which its quoted peak memory shows: see the case's notes). Asserted is what holds."""
    summary = {s.split: s for s in ref.summarise(ref.evaluate_all(CASES))}["calibration"]
    assert summary.share_25 >= 0.90
    assert summary.share_2x == 1.0
    assert summary.inexpressible == 0


def test_accuracy_on_the_holdout_cases() -> None:
    """Never fitted to: 14 of 17 within ±25% (82%), 17 of 17 within 2x when measured; asserted with a margin."""
    summary = {s.split: s for s in ref.summarise(ref.evaluate_all(CASES))}["holdout"]
    assert summary.share_25 >= 0.75
    assert summary.share_2x >= 0.94
    assert summary.inexpressible == 0


def test_the_uncertainty_bands_are_the_calibration_residuals() -> None:
    """The bands the estimates carry (domain.workloads.TIME_BANDS, MEMORY_BAND) are the calibration cases'
    residuals as the harness computes them: recalibrating without updating them fails here."""
    from gpubroker.domain.workloads import MEMORY_BAND, TIME_BANDS, Band

    bands = ref.uncertainty_bands(ref.evaluate_all(CASES))
    stored: dict[str, Band] = {str(kind): band for kind, band in TIME_BANDS.items()} | {"memory": MEMORY_BAND}
    assert set(stored) == set(bands)
    for kind, band in stored.items():
        low, high, cases, _ = bands[kind]
        assert abs(band.low - low) <= 0.006 and abs(band.high - high) <= 0.006, (kind, band, bands[kind])
        assert band.cases == cases, kind


def test_print_bands(capsys: pytest.CaptureFixture[str]) -> None:
    text = ref.format_bands(ref.uncertainty_bands(ref.evaluate_all(CASES)))
    assert "llm_inference" in text and "memory" in text
    with capsys.disabled():
        print("\n" + text)
