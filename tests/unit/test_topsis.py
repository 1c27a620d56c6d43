"""TOPSIS (gpumath.topsis): determinism, ideal-solution correctness, a worked example against an independent
row-major implementation and pymcdm, and every degenerate case the module documents."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from numpy.typing import NDArray

from gpumath.topsis import rank, topsis

F64 = NDArray[np.float64]
EPS = float(np.finfo(np.float64).eps)

# values on a 1/16 grid within +-1e4 (and sometimes a wide range): no criterion range so small that weighted
# differences underflow, which would make the "anti-ideal scores 0" property vacuous
VALUES = st.one_of(
    st.integers(-160_000, 160_000).map(lambda v: v / 16),
    st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False).filter(lambda v: v == 0 or abs(v) > 1e-3),
)
WEIGHT = st.one_of(st.just(0.0), st.floats(1e-3, 10.0))


@st.composite
def problems(draw: st.DrawFn, n_min: int = 1, n_max: int = 30) -> tuple[F64, F64, NDArray[np.bool_]]:
    m = draw(st.integers(1, 8))
    n = draw(st.integers(n_min, n_max))
    x = np.array(draw(st.lists(VALUES, min_size=m * n, max_size=m * n)), dtype=np.float64).reshape(m, n)
    w = np.array(draw(st.lists(WEIGHT, min_size=m, max_size=m)), dtype=np.float64)
    if not (w > 0).any():
        w[draw(st.integers(0, m - 1))] = 1.0
    ben = np.array(draw(st.lists(st.booleans(), min_size=m, max_size=m)), dtype=np.bool_)
    return x, w, ben


def reference_row_major(a: F64, w: F64, ben: NDArray[np.bool_]) -> F64:
    """Textbook TOPSIS on a row-major (n alternatives, m criteria) matrix, written independently of the kernel."""
    r = a / np.sqrt((a**2).sum(axis=0))
    v = r * (w / w.sum())
    ideal = np.where(ben, v.max(axis=0), v.min(axis=0))
    anti = np.where(ben, v.min(axis=0), v.max(axis=0))
    s_plus = np.sqrt(((v - ideal) ** 2).sum(axis=1))
    s_minus = np.sqrt(((v - anti) ** 2).sum(axis=1))
    with np.errstate(invalid="ignore"):
        out: F64 = s_minus / (s_plus + s_minus)
    return out


def ideal_anti(x: F64, ben: NDArray[np.bool_]) -> tuple[F64, F64]:
    best = np.where(ben, x.max(axis=1), x.min(axis=1))
    worst = np.where(ben, x.min(axis=1), x.max(axis=1))
    return best, worst


# ---- determinism ----------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(problems(), st.data())
def test_determinism(problem: tuple[F64, F64, NDArray[np.bool_]], data: st.DataObject) -> None:
    """Same input -> identical scores bit for bit; permuting alternatives permutes the scores exactly."""
    x, w, ben = problem
    first = topsis(x, w, ben)
    again = topsis(x.copy(), w.copy(), ben.copy())
    assert np.array_equal(first, again)
    perm = np.array(data.draw(st.permutations(range(x.shape[1]))), dtype=np.int64)
    permuted = topsis(np.ascontiguousarray(x[:, perm]), w, ben)
    assert np.array_equal(permuted, first[perm])
    assert np.array_equal(rank(permuted), rank(permuted))


@settings(max_examples=100, deadline=None)
@given(problems(), st.integers(-700, 700))
def test_determinism_under_power_of_two_rescaling(problem: tuple[F64, F64, NDArray[np.bool_]], k: int) -> None:
    """Rescaling a criterion by 2^k (exact) leaves the scores unchanged bit for bit, however large or small."""
    x, w, ben = problem
    scaled = x.copy()
    scaled[0] *= 2.0**k
    assert np.array_equal(topsis(scaled, w, ben), topsis(x, w, ben))


# ---- ideal solution correctness -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(problems())
def test_ideal_solution_correctness(problem: tuple[F64, F64, NDArray[np.bool_]]) -> None:
    """The ideal scores 1, the anti-ideal 0 (unless every weighted criterion is constant: all tie at 1), and all
    scores lie in [0, 1]."""
    x, w, ben = problem
    best, worst = ideal_anti(x, ben)
    full = np.column_stack([x, best, worst])
    scores = topsis(full, w, ben)
    assert scores.dtype == np.float64 and scores.shape == (full.shape[1],)
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    assert scores[-2] == 1.0
    discriminating = ((w > 0) & (full.max(axis=1) != full.min(axis=1)) & (np.abs(full).max(axis=1) > 0)).any()
    if discriminating:
        assert scores[-1] == 0.0
        assert rank(scores)[0] == full.shape[1] - 2 or scores[rank(scores)[0]] == 1.0
    else:
        assert np.all(scores == 1.0)


@settings(max_examples=300, deadline=None)
@given(problems(), st.data())
def test_dominating_alternative_never_ranks_below(
    problem: tuple[F64, F64, NDArray[np.bool_]], data: st.DataObject
) -> None:
    """An alternative at least as good on every criterion never scores below the one it dominates.

    Exact monotonicity holds for the separations; the final ratio may differ by rounding, so a few ulps are allowed.
    """
    x, w, ben = problem
    m, n = x.shape
    j = data.draw(st.integers(0, n - 1))
    step = np.array(data.draw(st.lists(st.integers(0, 1000), min_size=m, max_size=m)), dtype=np.float64) / 8
    dominating = x[:, j] + np.where(ben, step, -step)
    full = np.column_stack([x, dominating])
    scores = topsis(full, w, ben)
    assert scores[-1] >= scores[j] - 4 * EPS
    assert np.all((scores >= 0.0) & (scores <= 1.0))


# ---- worked example -------------------------------------------------------------------------------------------

# 5 GPU offers x 4 criteria (row-major as printed in textbooks: one row per alternative)
EXAMPLE = np.array(
    [
        # USD/GPU-h  GPU GB  TFLOPS  latency ms
        [2.49, 80.0, 989.0, 40.0],
        [1.99, 80.0, 756.0, 55.0],
        [0.79, 48.0, 362.0, 35.0],
        [0.44, 24.0, 165.0, 20.0],
        [3.20, 141.0, 989.0, 60.0],
    ]
)
EXAMPLE_W = np.array([0.4, 0.2, 0.3, 0.1])
EXAMPLE_BEN = np.array([False, True, True, False])


# pymcdm 1.4.0's scores for the worked example, ``TOPSIS(vector_normalization)(EXAMPLE, EXAMPLE_W, types,
# validation=False)``, recorded to full precision: pymcdm is a benchmark-only dependency (the ``bench`` group), and
# tests/bench/bench_topsis.py checks the live library against these figures on every run.
PYMCDM_SCORES = [0.4782534254811542, 0.504508359554217, 0.5813471442676206, 0.5544341079317793, 0.4455658920682208]


def test_worked_example_matches_reference_and_pymcdm() -> None:
    ours = topsis(np.ascontiguousarray(EXAMPLE.T), EXAMPLE_W, EXAMPLE_BEN)
    expected = reference_row_major(EXAMPLE, EXAMPLE_W, EXAMPLE_BEN)
    assert_allclose(ours, expected, rtol=0, atol=1e-14)
    assert_allclose(ours, PYMCDM_SCORES, rtol=0, atol=1e-14)
    # the values themselves (to 6 decimals), so a change in all three at once would still be caught
    assert_allclose(ours, [0.478253, 0.504508, 0.581347, 0.554434, 0.445566], atol=5e-7)
    assert rank(ours).tolist() == [2, 3, 1, 0, 4]


@settings(max_examples=200, deadline=None)
@given(problems(n_min=2))
def test_matches_row_major_reference(problem: tuple[F64, F64, NDArray[np.bool_]]) -> None:
    x, w, ben = problem
    if not (np.abs(x).max(axis=1) > 0).all():
        return  # the naive reference divides by a zero norm; covered by the degenerate tests below
    expected = reference_row_major(np.ascontiguousarray(x.T), w, ben)
    got = topsis(x, w, ben)
    ok = np.isfinite(expected)  # the reference gives NaN where S+ + S- == 0 (we define 1.0)
    assert_allclose(got[ok], expected[ok], rtol=1e-9, atol=1e-12)
    assert np.all(got[~ok] == 1.0)


# ---- degenerate input -----------------------------------------------------------------------------------------

X = np.ascontiguousarray(EXAMPLE.T)


def test_single_alternative_scores_one() -> None:
    assert topsis(X[:, :1], EXAMPLE_W, EXAMPLE_BEN).tolist() == [1.0]


def test_no_alternatives_gives_empty() -> None:
    out = topsis(np.empty((4, 0)), EXAMPLE_W, EXAMPLE_BEN)
    assert out.shape == (0,) and out.dtype == np.float64


def test_all_identical_alternatives_all_score_one() -> None:
    x = np.repeat(X[:, :1], 6, axis=1)
    assert topsis(x, EXAMPLE_W, EXAMPLE_BEN).tolist() == [1.0] * 6


def test_all_zero_column_contributes_nothing() -> None:
    x = np.vstack([X, np.zeros((1, X.shape[1]))])
    got = topsis(x, np.append(EXAMPLE_W, 0.7), np.append(EXAMPLE_BEN, True))
    assert np.all(np.isfinite(got))
    assert_allclose(got, topsis(X, EXAMPLE_W, EXAMPLE_BEN), rtol=1e-13)


def test_constant_column_contributes_nothing() -> None:
    x = np.vstack([X, np.full((1, X.shape[1]), 3.5)])
    got = topsis(x, np.append(EXAMPLE_W, 0.7), np.append(EXAMPLE_BEN, False))
    assert_allclose(got, topsis(X, EXAMPLE_W, EXAMPLE_BEN), rtol=1e-13)


def test_individual_zero_weight_drops_the_criterion() -> None:
    w = EXAMPLE_W.copy()
    w[2] = 0.0
    keep = [0, 1, 3]
    assert_allclose(topsis(X, w, EXAMPLE_BEN), topsis(X[keep], w[keep], EXAMPLE_BEN[keep]), rtol=1e-13)


def test_weights_are_normalised_inside() -> None:
    assert_allclose(topsis(X, EXAMPLE_W * 37.0, EXAMPLE_BEN), topsis(X, EXAMPLE_W, EXAMPLE_BEN), rtol=1e-14)


def test_all_zero_weights_raise() -> None:
    with pytest.raises(ValueError, match="weight"):
        topsis(X, np.zeros(4), EXAMPLE_BEN)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_x_raises(bad: float) -> None:
    x = X.copy()
    x[1, 3] = bad
    with pytest.raises(ValueError, match="finite"):
        topsis(x, EXAMPLE_W, EXAMPLE_BEN)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weight_raises(bad: float) -> None:
    w = EXAMPLE_W.copy()
    w[0] = bad
    with pytest.raises(ValueError, match="finite"):
        topsis(X, w, EXAMPLE_BEN)


def test_negative_weight_raises() -> None:
    w = EXAMPLE_W.copy()
    w[1] = -0.1
    with pytest.raises(ValueError, match=">= 0"):
        topsis(X, w, EXAMPLE_BEN)


@pytest.mark.parametrize(
    ("x", "w", "ben"),
    [
        (X, EXAMPLE_W[:3], EXAMPLE_BEN),
        (X, EXAMPLE_W, EXAMPLE_BEN[:3]),
        (X[0], EXAMPLE_W[:1], EXAMPLE_BEN[:1]),
        (np.empty((0, 5)), np.empty(0), np.empty(0, dtype=bool)),
        (X.reshape(2, 2, 5), EXAMPLE_W, EXAMPLE_BEN),
        (X, EXAMPLE_W, np.where(EXAMPLE_BEN, 1, -1)),  # pymcdm-style types are not booleans
    ],
)
def test_shape_or_type_mismatch_raises(x: F64, w: F64, ben: NDArray[np.bool_]) -> None:
    with pytest.raises(ValueError):
        topsis(x, w, ben)


def test_huge_and_tiny_magnitudes_stay_finite() -> None:
    x = X.copy()
    x[0] *= 1e300
    x[1] *= 1e-300
    got = topsis(x, EXAMPLE_W, EXAMPLE_BEN)
    assert_allclose(got, topsis(X, EXAMPLE_W, EXAMPLE_BEN), rtol=1e-12)
    wide = np.array([[1.7e308, -1.7e308, 0.0], [1.0, 2.0, 3.0]])
    got = topsis(wide, np.array([1.0, 1.0]), np.array([True, False]))
    assert np.all(np.isfinite(got)) and np.all((got >= 0) & (got <= 1))


def test_out_buffer_is_filled_and_returned() -> None:
    buf = np.empty(X.shape[1])
    assert topsis(X, EXAMPLE_W, EXAMPLE_BEN, out=buf) is buf
    with pytest.raises(ValueError, match="out"):
        topsis(X, EXAMPLE_W, EXAMPLE_BEN, out=np.empty(2))


def test_rank_is_stable_descending() -> None:
    got = rank(np.array([0.5, 0.9, 0.5, 0.1, 0.9]))
    assert got.dtype == np.int64
    assert got.tolist() == [1, 4, 0, 2, 3]


def test_threaded_path_is_bit_identical_to_single_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large n runs over column ranges on a thread pool; the parts combine order-independently."""
    import gpumath.topsis as mod

    rng = np.random.default_rng(7)
    x = rng.uniform(0.05, 1.0, size=(8, 3 * mod._BLOCK + 123)) * rng.uniform(1, 1e3, size=(8, 1))
    w, ben = rng.uniform(0.1, 1.0, 8), np.arange(8) < 4
    monkeypatch.setattr(mod, "_PARALLEL_MIN", 1)
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    threaded = topsis(x, w, ben)
    monkeypatch.setattr(mod, "_PARALLEL_MIN", 10**12)
    single = topsis(x, w, ben)
    assert np.array_equal(threaded, single)
    perm = rng.permutation(x.shape[1])
    assert np.array_equal(topsis(np.ascontiguousarray(x[:, perm]), w, ben), single[perm])
    assert_allclose(single, reference_row_major(np.ascontiguousarray(x.T), w, ben), rtol=1e-12)
