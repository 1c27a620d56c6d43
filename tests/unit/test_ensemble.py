"""Property "ensemble weight sum": weights sum to 1 (else refused), score == weighted sum, scores in [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gpumath.ensemble import criterion_strengths, ensemble, popularity, rescale01

finite = st.floats(-1e6, 1e6, allow_nan=False)


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    n = draw(st.integers(1, 50))
    comps = {k: draw(arrays(np.float64, n, elements=finite)) for k in ("topsis", "collaborative", "content")}
    raw = [draw(st.floats(0, 1)) for _ in range(3)]
    total = sum(raw) or 1.0
    w = [r / total for r in raw] if sum(raw) else [1.0, 0.0, 0.0]
    w[-1] = 1.0 - w[0] - w[1]
    return comps, dict(zip(("topsis", "collaborative", "content"), w, strict=True))


@given(cases())
def test_score_is_weighted_sum_in_unit_range(case: tuple[dict[str, np.ndarray], dict[str, float]]) -> None:
    comps, weights = case
    if min(weights.values()) < 0:
        return
    score, scaled = ensemble(comps, weights)
    expected = sum(weights[k] * scaled[k] for k in sorted(weights))
    np.testing.assert_allclose(score, np.clip(expected, 0, 1), atol=1e-12)
    assert np.all((score >= 0) & (score <= 1))
    for s in scaled.values():
        assert np.all((s >= 0) & (s <= 1))


@given(st.lists(st.floats(0, 2), min_size=3, max_size=3).filter(lambda w: abs(sum(w) - 1) > 1e-6))
def test_weights_not_summing_to_one_are_refused(w: list[float]) -> None:
    comps = {k: np.arange(3.0) for k in ("a", "b", "c")}
    with pytest.raises(ValueError, match="sum to 1"):
        ensemble(comps, dict(zip("abc", w, strict=True)))


def test_negative_weight_and_mismatched_keys_refused() -> None:
    with pytest.raises(ValueError):
        ensemble({"a": np.ones(2), "b": np.ones(2)}, {"a": 1.5, "b": -0.5})
    with pytest.raises(ValueError):
        ensemble({"a": np.ones(2)}, {"b": 1.0})


def test_rescale_constant_and_popularity() -> None:
    assert np.all(rescale01(np.full(4, 3.0)) == 0.5)
    np.testing.assert_allclose(popularity(np.array([0.0, 0.0, 9.0])), [0, 0, 1])
    with pytest.raises(ValueError):
        rescale01(np.array([1.0, np.nan]))


def test_criterion_strengths_orient_cost_and_benefit() -> None:
    x = np.array([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]])  # price (cost), memory (benefit)
    s = criterion_strengths(x, np.array([0.5, 0.5]), np.array([False, True]))
    np.testing.assert_allclose(s, [[0.5, 0.25, 0.0], [0.0, 0.25, 0.5]])
