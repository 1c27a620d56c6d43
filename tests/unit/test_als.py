"""ALS-WR (gpumath.als): matrix factorisation convergence properties, helpers and input validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from gpumath.als import als_wr, csr_from_coo, objective, predict, top_n

SLACK = 1e-9  # relative float slack on "the objective never increases"


def _low_rank(
    n_users: int, n_items: int, rank: int, density: float, noise: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cells = np.unique(rng.integers(0, n_users * n_items, int(density * n_users * n_items)))
    users, items = cells // n_items, cells % n_items
    u = rng.standard_normal((n_users, rank))
    v = rng.standard_normal((n_items, rank))
    r = 3.0 + np.einsum("ij,ij->i", u[users], v[items]) / np.sqrt(rank) + rng.normal(0.0, noise, cells.size)
    return users, items, r


def _assert_monotone(obj: np.ndarray) -> None:
    steps = np.diff(obj)
    assert np.all(steps <= SLACK * obj[:-1]), f"objective increased: max {np.max(steps / obj[:-1]):.3e}"


@st.composite
def csr_problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, float, int]:
    n_users = draw(st.integers(1, 25))
    n_items = draw(st.integers(1, 25))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    density = draw(st.sampled_from([0.05, 0.2, 0.5, 1.0]))
    mask = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    scale = draw(st.sampled_from([1e-3, 1.0, 5.0, 1e3]))
    kind = draw(st.sampled_from(["uniform", "int", "const", "signed"]))
    vals = {
        "uniform": rng.uniform(0.0, 1.0, users.size) * scale,
        "int": rng.integers(1, 6, users.size).astype(np.float64),
        "const": np.full(users.size, scale),
        "signed": rng.standard_normal(users.size) * scale,
    }[kind]
    indptr, indices, data = csr_from_coo(users, items, vals, n_users, n_items)
    k = draw(st.integers(1, 12))
    lam = draw(st.sampled_from([1e-3, 0.1, 1.0, 10.0]))
    cg = draw(st.integers(1, 5))
    return indptr, indices, data, n_items, k, lam, cg


@settings(max_examples=60, deadline=None)
@given(problem=csr_problems(), seed=st.integers(0, 2**32 - 1))
def test_matrix_factorisation_convergence_objective_never_increases(
    problem: tuple[np.ndarray, np.ndarray, np.ndarray, int, int, float, int], seed: int
) -> None:
    indptr, indices, data, n_items, k, lam, cg = problem
    res = als_wr(
        indptr, indices, data, n_items, k=k, lam=lam, tol=0.0, max_sweeps=8, cg_steps=cg,
        rng=np.random.default_rng(seed),
    )  # fmt: skip
    assert res.objective.shape == (1 + 2 * res.sweeps,)
    assert np.all(np.isfinite(res.objective)) and np.all(res.objective >= 0)
    _assert_monotone(res.objective)
    # the history ends at the objective of the returned factors
    final = objective(indptr, indices, data, res.user_factors, res.item_factors, lam=lam)
    assert_allclose(res.objective[-1], final, rtol=1e-9, atol=1e-12)
    # rows/columns without interactions keep zero factors
    assert not np.any(res.user_factors[np.diff(indptr) == 0])
    assert not np.any(res.item_factors[np.bincount(indices, minlength=n_items) == 0])


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rank=st.integers(2, 4), k=st.integers(7, 10))
def test_matrix_factorisation_convergence_low_rank_reaches_tolerance_and_beats_the_mean(
    seed: int, rank: int, k: int
) -> None:
    n_users, n_items = 300, 200
    users, items, r = _low_rank(n_users, n_items, rank, 0.15, 0.3, seed)
    rng = np.random.default_rng(seed)
    test = rng.random(r.size) < 0.1
    indptr, indices, data = csr_from_coo(users[~test], items[~test], r[~test], n_users, n_items)
    res = als_wr(indptr, indices, data, n_items, k=k, lam=0.1, tol=1e-6, max_sweeps=200, rng=rng)
    assert res.converged and res.sweeps < 200
    rel = abs(res.objective[-3] - res.objective[-1]) / res.objective[-3]
    assert rel <= 1e-6
    _assert_monotone(res.objective)
    pred = predict(res.user_factors, res.item_factors, users[test], items[test])
    rmse = np.sqrt(np.mean((pred - r[test]) ** 2))
    baseline = np.sqrt(np.mean((data.mean() - r[test]) ** 2))
    assert rmse < 0.75 * baseline, (rmse, baseline)


def test_threads_give_identical_results_and_fit_is_deterministic() -> None:
    users, items, r = _low_rank(200, 150, 3, 0.2, 0.3, 7)
    indptr, indices, data = csr_from_coo(users, items, r, 200, 150)
    kw = {"k": 8, "max_sweeps": 5, "tol": 0.0}
    a = als_wr(indptr, indices, data, 150, rng=np.random.default_rng(1), **kw)  # type: ignore[arg-type]
    b = als_wr(indptr, indices, data, 150, rng=np.random.default_rng(1), n_threads=2, **kw)  # type: ignore[arg-type]
    assert_array_equal(a.user_factors, b.user_factors)
    assert_array_equal(a.item_factors, b.item_factors)
    assert_array_equal(a.objective, b.objective)


def test_exact_fit_with_many_cg_steps_matches_closed_form_half_step() -> None:
    # one user half-step with enough CG steps equals the exact ridge solution for every user
    users, items, r = _low_rank(40, 30, 2, 0.5, 0.1, 3)
    indptr, indices, data = csr_from_coo(users, items, r, 40, 30)
    k, lam = 4, 0.1
    res = als_wr(
        indptr, indices, data, 30, k=k, lam=lam, tol=0.0, max_sweeps=1, cg_steps=k, rng=np.random.default_rng(0)
    )
    y = res.item_factors.astype(np.float64)
    x = res.user_factors.astype(np.float64)
    # the item half-step is the last one: check items against the exact solve given x
    for i in range(30):  # test-side reference loop (small)
        rows = indices == i
        u = np.repeat(np.arange(40), np.diff(indptr))[rows]
        a = x[u].T @ x[u] + lam * u.size * np.eye(k)
        assert_allclose(y[i], np.linalg.solve(a, x[u].T @ data[rows]), rtol=2e-3, atol=2e-4)


def test_empty_and_all_zero_input() -> None:
    res = als_wr(np.zeros(4, np.int64), np.zeros(0, np.int64), np.zeros(0), 3, k=2, rng=np.random.default_rng(0))
    assert res.converged and res.sweeps == 0
    assert res.user_factors.shape == (3, 2) and res.item_factors.shape == (3, 2)
    assert not np.any(res.user_factors) and not np.any(res.item_factors)
    assert_array_equal(res.objective, [0.0])
    z = als_wr([0, 2, 2], [0, 1], [0.0, 0.0], 2, k=3, rng=np.random.default_rng(0))
    assert z.converged and z.objective[-1] == pytest.approx(0.0, abs=1e-12)


def test_csr_from_coo_duplicates() -> None:
    users = [1, 0, 1, 1]
    items = [2, 1, 0, 2]
    vals = [1.0, 2.0, 3.0, 4.0]
    indptr, indices, data = csr_from_coo(users, items, vals, 3, 3)
    assert_array_equal(indptr, [0, 1, 3, 3])
    assert_array_equal(indices, [1, 0, 2])
    assert_array_equal(data, [2.0, 3.0, 4.0])  # last wins
    _, _, summed = csr_from_coo(users, items, vals, 3, 3, duplicates="sum")
    assert_array_equal(summed, [2.0, 3.0, 5.0])
    with pytest.raises(ValueError):
        csr_from_coo([0], [3], [1.0], 1, 3)
    with pytest.raises(ValueError):
        csr_from_coo([0], [0], [np.nan], 1, 1)


def test_predict_and_top_n() -> None:
    x = np.array([[1.0, 0.0], [0.0, 2.0]])
    y = np.array([[1.0, 1.0], [3.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert_allclose(predict(x, y, [0, 1, 1], [1, 2, 0]), [3.0, 2.0, 2.0])
    assert_array_equal(top_n(x[0], y, 3), [1, 0, 3])  # ties by lower index
    assert_array_equal(top_n(x[0], y, 2, exclude=[1]), [0, 3])
    assert_array_equal(top_n(x[1], y, 10, exclude=[0, 1, 2, 3]), np.empty(0, np.int64))
    with pytest.raises(ValueError):
        predict(x, y, [2], [0])
    with pytest.raises(ValueError):
        top_n(x[0], y, 1, exclude=[4])


@pytest.mark.parametrize(
    ("kwargs", "csr"),
    [
        ({"k": 0}, None),
        ({"k": 257}, None),
        ({"lam": 0.0}, None),
        ({"lam": float("nan")}, None),
        ({"tol": -1.0}, None),
        ({"max_sweeps": 0}, None),
        ({"cg_steps": 0}, None),
        ({}, ([0, 1], [5], [1.0])),  # item out of range
        ({}, ([0, 2], [0], [1.0])),  # indptr / indices disagree
        ({}, ([1, 1], [], [])),  # indptr not starting at 0
        ({}, ([0, 2, 1], [0, 1], [1.0, 2.0])),  # decreasing indptr
        ({}, ([0, 1], [0], [np.inf])),  # non-finite data
        ({}, ([0, 1], [0.5], [1.0])),  # non-integer indices
    ],
)
def test_validation(kwargs: dict[str, float], csr: tuple[list[int], list[float], list[float]] | None) -> None:
    indptr, indices, data = csr or ([0, 1], [0], [1.0])
    with pytest.raises(ValueError):
        als_wr(indptr, indices, data, 2, rng=np.random.default_rng(0), **kwargs)  # type: ignore[arg-type]
