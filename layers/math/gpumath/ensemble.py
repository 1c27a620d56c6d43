"""Ensemble recommender kernel: components rescaled to [0, 1], then a weighted sum; and per-offer explanations.

score = sum_c w_c x rescale(component_c), weights >= 0 summing to 1 (default 0.4 TOPSIS, 0.3 collaborative,
0.3 content). ``rescale`` is min-max over the candidate set; a constant component carries no information and
becomes 0.5 for every offer, so it shifts no ranking.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from gpumath.arrays import F64

WEIGHT_TOLERANCE = 1e-9


def rescale01(x: F64) -> F64:
    """Min-max to [0, 1] over finite values; constant input -> 0.5; non-finite -> ValueError."""
    if not np.all(np.isfinite(x)):
        raise ValueError("component scores must be finite")
    if x.size == 0:
        return x.astype(np.float64)
    lo, hi = float(x.min()), float(x.max())
    if hi - lo <= 0:
        return np.full(x.shape, 0.5, dtype=np.float64)
    out: F64 = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return out


def validate_weights(weights: Mapping[str, float]) -> None:
    values = np.array(list(weights.values()), dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("weights must be finite and >= 0")
    if abs(float(values.sum()) - 1.0) > WEIGHT_TOLERANCE:
        raise ValueError(f"weights must sum to 1 (got {float(values.sum())!r})")


def ensemble(components: Mapping[str, F64], weights: Mapping[str, float]) -> tuple[F64, dict[str, F64]]:
    """(score (n,) in [0, 1], rescaled components). ``components`` and ``weights`` have the same keys."""
    validate_weights(weights)
    if set(components) != set(weights):
        raise ValueError(f"components {sorted(components)} and weights {sorted(weights)} differ")
    scaled = {name: rescale01(np.asarray(c, dtype=np.float64)) for name, c in components.items()}
    n = next(iter(scaled.values())).shape[0]
    score = np.zeros(n, dtype=np.float64)
    for name in sorted(scaled):  # fixed summation order: deterministic bit for bit
        score += weights[name] * scaled[name]
    out: F64 = np.clip(score, 0.0, 1.0)
    return out, scaled


def criterion_strengths(x: F64, weights: F64, benefit: NDArray[np.bool_]) -> F64:
    """(m, n): how strongly each criterion speaks for each offer, ``w_j x`` min-max position toward the best.

    ``x`` is criteria-major (m, n); for a cost criterion the cheapest offer gets 1. Used to name the top
    contributing criteria in explanations.
    """
    lo = x.min(axis=1, keepdims=True)
    hi = x.max(axis=1, keepdims=True)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    pos = (x - lo) / span
    pos = np.where(benefit[:, None], pos, 1.0 - pos)
    pos = np.where(hi - lo > 0, pos, 0.0)
    w = weights / weights.sum() if weights.sum() > 0 else weights
    out: F64 = w[:, None] * pos
    return out


def popularity(counts: F64) -> F64:
    """Cold-start prior: log-damped interaction counts, rescaled to [0, 1] (no interactions at all -> 0.5)."""
    return rescale01(np.log1p(np.maximum(counts, 0.0)))
