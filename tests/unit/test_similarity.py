"""Property "similarity bounds": every similarity in [-1, 1], self-similarity 1, symmetric."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gpumath.similarity import build_features, cosine_matrix, cosine_to, top_k


@st.composite
def catalogs(draw: st.DrawFn) -> tuple[dict[str, np.ndarray], list[tuple[np.ndarray, int]]]:
    n = draw(st.integers(2, 40))
    pos = st.floats(0.01, 1e4, allow_nan=False)
    numeric = {name: draw(arrays(np.float64, n, elements=pos)) for name in ("price", "memory", "tflops")}
    cats = []
    for k in (3, 5):
        cats.append((draw(arrays(np.int32, n, elements=st.integers(0, k - 1))), k))
    return numeric, cats


@settings(max_examples=200, deadline=None)
@given(catalogs())
def test_similarity_bounds(cat: tuple[dict[str, np.ndarray], list[tuple[np.ndarray, int]]]) -> None:
    numeric, cats = cat
    f = build_features(numeric, cats)
    n = f.shape[1]
    m = cosine_matrix(f, np.arange(n, dtype=np.int64))
    assert np.all((m >= -1) & (m <= 1))
    assert np.array_equal(m, m.T)
    assert np.all(np.diag(m) == 1.0)  # one-hot blocks make every vector non-zero
    for i in (0, n - 1):
        row = cosine_to(f, i)
        assert row[i] == 1.0 and np.all((row >= -1) & (row <= 1))
        np.testing.assert_allclose(row, m[i], atol=1e-12)


def test_identical_offers_are_most_similar_and_top_k_excludes_self() -> None:
    numeric = {"price": np.array([1.0, 1.0, 9.0, 2.0]), "memory": np.array([80.0, 80.0, 24.0, 48.0])}
    cats = [(np.array([0, 0, 1, 0], dtype=np.int32), 2)]
    f = build_features(numeric, cats)
    sims = cosine_to(f, 0)
    assert sims[1] == 1.0 or np.isclose(sims[1], 1.0)
    assert list(top_k(sims, 2, exclude=np.array([0]))) == [1, 3]
