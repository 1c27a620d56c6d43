"""Per-group statistics of one value column: offers grouped by a categorical code (the GPU model), vectorised.

The market summary and the presets' savings read the same figures from here, so "the market median of an H100-SXM"
is one number wherever it is shown.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from gpumath.arrays import F64, I64


class GroupStats(NamedTuple):
    """One entry per group code ``0..n_groups-1``: ``n`` values, their mean, median and minimum (NaN where n = 0)."""

    n: I64
    mean: F64
    median: F64
    minimum: F64


def group_stats(codes: ArrayLike, values: ArrayLike, n_groups: int) -> GroupStats:
    """Count, mean, median and minimum of ``values`` (n,) per group ``codes`` (n,) in ``[0, n_groups)``.

    The median of an even count is the mean of its two middle values (``np.median``'s rule). One stable sort by
    (code, value): O(n log n), no loop over groups. NaN values are refused (a price is always known here).
    """
    c = np.asarray(codes, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    if c.shape != v.shape or c.ndim != 1:
        raise ValueError(f"codes and values must be 1-D of one length, got {c.shape} and {v.shape}")
    if np.isnan(v).any():
        raise ValueError("values must not be NaN")
    if c.size and (c.min() < 0 or c.max() >= n_groups):
        raise ValueError(f"codes must lie in [0, {n_groups})")
    count: I64 = np.bincount(c, minlength=n_groups).astype(np.int64)
    order = np.lexsort((v, c))
    ranked = v[order]
    start = np.concatenate(([0], np.cumsum(count)[:-1])).astype(np.int64) if n_groups else np.zeros(0, np.int64)
    has = count > 0
    lo = np.where(has, start + (count - 1) // 2, 0)
    hi = np.where(has, start + count // 2, 0)
    nan = np.full(n_groups, np.nan)
    if ranked.size == 0:
        return GroupStats(count, nan, nan.copy(), nan.copy())
    median: F64 = np.where(has, (ranked[lo] + ranked[hi]) / 2.0, np.nan)
    minimum: F64 = np.where(has, ranked[np.where(has, start, 0)], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean: F64 = np.where(has, np.bincount(c, weights=v, minlength=n_groups) / count, np.nan)
    return GroupStats(count, mean, median, minimum)
