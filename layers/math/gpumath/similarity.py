"""Content-based similarity between offers: feature vectors and cosine similarity, criteria-major.

Features (documented in docs/decisions.md, "Content similarity"):
- numeric, log-scaled then standardised over the catalog (z-scores): price per GPU-hour, GPU memory (GB),
  GPU count, dense FP16 tensor TFLOPS, memory bandwidth (GB/s);
- categorical, one-hot and scaled so a category contributes as much as one numeric feature: GPU vendor,
  provider, form factor, and whether the region is in the EU/EEA.
Each offer's vector is L2-normalised once, so cosine similarity is a dot product.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from gpumath.arrays import F64

I32 = NDArray[np.int32]


def standardise_log(values: F64) -> F64:
    """log1p then z-score over the catalog; a constant (or single-valued) feature becomes all zeros."""
    x = np.log1p(np.maximum(values, 0.0))
    sd = float(x.std())
    out: F64 = (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)
    return out


def one_hot(codes: I32, n_categories: int, weight: float = 1.0) -> F64:
    """(n_categories, n) block; with ``weight = 1/sqrt(2)`` two different categories are 1 apart (like 1 SD)."""
    out = np.zeros((n_categories, codes.shape[0]), dtype=np.float64)
    out[codes, np.arange(codes.shape[0])] = weight
    return out


def build_features(numeric: Mapping[str, F64], categorical: Sequence[tuple[I32, int]]) -> F64:
    """(d, n) criteria-major feature matrix, each column (offer) L2-normalised.

    An all-zero column (possible only when every feature is at its mean and no category is set) stays zero.
    """
    blocks = [standardise_log(v)[None, :] for v in numeric.values()]
    blocks += [one_hot(codes, k, weight=1 / np.sqrt(2)) for codes, k in categorical]
    feats = np.vstack(blocks) if blocks else np.zeros((0, 0))
    norms = np.sqrt(np.einsum("dn,dn->n", feats, feats))
    safe = np.where(norms > 0, norms, 1.0)
    out: F64 = feats / safe
    return out


def cosine_to(features: F64, i: int) -> F64:
    """Similarity of every offer to offer ``i``: (n,) in [-1, 1]; 1 for ``i`` itself (unless its vector is 0)."""
    sims = features[:, i] @ features
    out: F64 = np.clip(sims, -1.0, 1.0)
    if np.any(features[:, i]):
        out[i] = 1.0
    return out


def cosine_matrix(features: F64, idx: NDArray[np.int64]) -> F64:
    """(k, k) symmetric similarity between the offers at ``idx``, diagonal exactly 1 for non-zero vectors."""
    sub = features[:, idx]
    sims = sub.T @ sub
    sims = np.clip((sims + sims.T) / 2.0, -1.0, 1.0)
    nonzero = np.any(sub != 0, axis=0)
    sims[np.diag_indices_from(sims)] = np.where(nonzero, 1.0, 0.0)
    out: F64 = sims
    return out


def top_k(
    scores: F64, k: int, exclude: NDArray[np.int64] | None = None, mask: NDArray[np.bool_] | None = None
) -> NDArray[np.int64]:
    """Indices of the k best scores (descending, ties by index), skipping ``exclude`` and offers not in ``mask``."""
    s = scores.astype(np.float64, copy=True)
    if mask is not None:
        s[~mask] = -np.inf
    if exclude is not None and exclude.size:
        s[exclude] = -np.inf
    order = np.argsort(-s, kind="stable")
    keep = order[np.isfinite(s[order])]
    out: NDArray[np.int64] = keep[:k].astype(np.int64)
    return out
