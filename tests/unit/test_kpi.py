"""Property "cost-per-token calculation" and the other KPI kernels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpumath.kpi import (
    cost_per_million_tokens,
    decode_tokens_per_second,
    efficiency_score,
    usd_per_gflop,
    usd_per_pflop_hour,
)

prices = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False, allow_infinity=False)
tps = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(prices, tps)
def test_cost_per_token_formula(price: float, t: float) -> None:
    got = float(cost_per_million_tokens(price, t))
    expected = price / (t * 3600) * 1e6
    assert abs(got - expected) <= 1e-12 * abs(expected)


# Correctly rounded division and multiplication are monotone, so the order always holds non-strictly; two inputs one
# or two ulps apart may round to the same cost (CI found 1e6 and its predecessor giving the same float), so it is
# strict for inputs further apart than the formula's few roundings (DISTINCT: a relative gap).
DISTINCT = 1e-12


@given(prices, prices, tps)
def test_strictly_increasing_in_price(a: float, b: float, t: float) -> None:
    lo, hi = sorted((a, b))
    assert cost_per_million_tokens(lo, t) <= cost_per_million_tokens(hi, t)
    if hi > lo * (1 + DISTINCT):
        assert cost_per_million_tokens(lo, t) < cost_per_million_tokens(hi, t)


@given(prices, tps, tps)
def test_strictly_decreasing_in_throughput(p: float, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert cost_per_million_tokens(p, lo) >= cost_per_million_tokens(p, hi)
    if hi > lo * (1 + DISTINCT):
        assert cost_per_million_tokens(p, lo) > cost_per_million_tokens(p, hi)


def test_throughputs_one_ulp_apart_may_share_a_cost_but_never_invert() -> None:
    """The case a CI run drew: p = 8478.625 at 1e6 tokens/s and at the float just below it."""
    below = float(np.nextafter(1e6, 0))
    assert cost_per_million_tokens(8478.625, below) >= cost_per_million_tokens(8478.625, 1e6)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_rejects_non_positive_throughput(bad: float) -> None:
    with pytest.raises(ValueError):
        cost_per_million_tokens(1.0, bad)


def test_vectorised() -> None:
    out = cost_per_million_tokens(np.array([1.0, 2.0]), np.array([100.0, 100.0]))
    np.testing.assert_allclose(out, [1 / 0.36, 2 / 0.36])


def test_flop_costs_worked_example() -> None:
    # an H100 SXM (989.4 dense BF16 TFLOPS) at 2.50 USD/h: 2.5 * 1000 / 989.4 USD per PFLOP-hour
    np.testing.assert_allclose(usd_per_pflop_hour(2.5, 989.4), 2.5 * 1000 / 989.4, rtol=1e-15)
    np.testing.assert_allclose(usd_per_gflop(2.5, 989.4), 2.5 / (989.4 * 1e3 * 3600), rtol=1e-14)
    with pytest.raises(ValueError):
        usd_per_pflop_hour(2.5, 989.4, utilisation=0)


@given(
    st.lists(st.tuples(tps, prices, st.floats(30, 1500)), min_size=1, max_size=20),
    st.floats(0, 1),
)
def test_efficiency_in_range_and_best_scores_full(rows: list[tuple[float, float, float]], w: float) -> None:
    t, p, watts = (np.array(c) for c in zip(*rows, strict=True))
    score, per_usd, per_watt = efficiency_score(
        t,
        p,
        watts,
        ref_tflops_per_usd=float((t / p).max()),
        ref_tflops_per_watt=float((t / watts).max()),
        cost_weight=w,
        power_weight=1 - w,
    )
    assert np.all((score >= 0) & (score <= 100 + 1e-9))
    both_best = (per_usd == per_usd.max()) & (per_watt == per_watt.max())
    assert np.allclose(score[both_best], 100.0)


def test_efficiency_rejects_bad_weights() -> None:
    with pytest.raises(ValueError):
        efficiency_score(
            1.0, 1.0, 100.0, ref_tflops_per_usd=1, ref_tflops_per_watt=1, cost_weight=0.7, power_weight=0.7
        )


def test_decode_bound_by_bandwidth() -> None:
    # 7B fp16 (14 GB of weights) on 3350 GB/s at 70 %: ~167 tokens/s
    np.testing.assert_allclose(decode_tokens_per_second(3350.0, 7.0, 2.0), 0.7 * 3350 / 14)
