"""Property: ``gpumath.groups.group_stats`` gives, per group, exactly what NumPy gives over that group alone."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpumath.groups import group_stats


@st.composite
def grouped(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    groups = draw(st.integers(1, 8))
    n = draw(st.integers(0, 60))
    codes = np.array(draw(st.lists(st.integers(0, groups - 1), min_size=n, max_size=n)), dtype=np.int64)
    values = np.array(draw(st.lists(st.floats(0.001, 1e4), min_size=n, max_size=n)), dtype=np.float64)
    return codes, values, groups


@settings(max_examples=300, deadline=None)
@given(grouped())
def test_each_group_matches_numpy_over_that_group(case: tuple[np.ndarray, np.ndarray, int]) -> None:
    codes, values, groups = case
    stats = group_stats(codes, values, groups)
    for g in range(groups):
        mine = values[codes == g]
        assert stats.n[g] == mine.size
        if mine.size:
            assert stats.median[g] == np.median(mine) and stats.minimum[g] == mine.min()
            np.testing.assert_allclose(stats.mean[g], mine.mean(), rtol=1e-12)
        else:
            assert np.isnan(stats.median[g]) and np.isnan(stats.minimum[g]) and np.isnan(stats.mean[g])


def test_degenerate_input_is_refused_at_the_boundary() -> None:
    with pytest.raises(ValueError):
        group_stats([0, 1], [1.0, float("nan")], 2)
    with pytest.raises(ValueError):
        group_stats([0, 2], [1.0, 2.0], 2)
    with pytest.raises(ValueError):
        group_stats([0], [1.0, 2.0], 2)
    empty = group_stats(np.zeros(0, np.int64), np.zeros(0), 0)
    assert empty.n.size == 0 and empty.median.size == 0
