"""TOPSIS (Hwang & Yoon 1981) over a criteria-major decision matrix, in pure NumPy.

Layout: ``x`` is ``float64[m, n]`` -- one row per criterion (e.g. USD per GPU-hour, GB, TFLOPS), one column per
offer (alternative). Offers are stored column-wise, so each criterion is one contiguous row (about 5x faster than
the row-major ``(n, m)`` layout other libraries use).

Method (for criterion i and alternative j):

1. weights are normalised to sum 1: ``w_i = weights_i / sum(weights)`` (closeness is invariant to a common scale);
2. L2 vector normalisation and weighting folded into one per-criterion factor ``s_i = w_i / ||x_i||_2``, so the
   weighted normalised matrix is ``v_ij = s_i * x_ij``;
3. ideal ``v+_i`` = max_j v_ij for a benefit criterion (min_j for a cost one); anti-ideal ``v-_i`` the other end.
   As ``s_i >= 0`` and rounding is monotone, ``s_i * max_j x_ij`` *is* ``max_j v_ij`` bit for bit, so an
   alternative at the ideal (anti-ideal) on every criterion has a separation of exactly 0;
4. separations ``S+_j = sqrt(sum_i (v_ij - v+_i)^2)`` and ``S-_j`` likewise, accumulated criterion by criterion
   (row 0, then row 1, ...) into ``(n,)`` buffers -- the same order for every alternative;
5. relative closeness ``C_j = S-_j / (S+_j + S-_j)`` in [0, 1] (``S+ >= 0`` and monotone rounding keep it <= 1).

Degenerate input (decided here, tested in ``tests/unit/test_topsis.py``):

- ``n == 0``: an empty ``(0,)`` result. ``n == 1``: the lone alternative is both ideal and anti-ideal -> 1.0.
- ``S+_j + S-_j == 0`` (every contributing criterion is constant, i.e. all alternatives tie, or the weighted
  differences underflow): ``C_j = 1.0`` -- the alternative sits *at* the ideal; deterministic and in [0, 1].
- all-zero criterion (norm 0): ``s_i = 0``, it contributes nothing (no division by zero, no NaN).
- constant criterion: ideal == anti-ideal, contributes exactly 0 to both separations.
- an individual zero weight: that criterion contributes nothing. All weights zero -> ``ValueError``.
- NaN or +-inf anywhere in ``x`` or ``weights``, a negative weight, a non-bool ``benefit``, or shapes that do not
  agree (``x`` not 2-D, ``weights``/``benefit`` not ``(m,)``, ``m == 0``) -> ``ValueError``.

Determinism: the same input gives the same scores bit for bit, and permuting the alternatives permutes the scores
exactly. Every step is elementwise per alternative or an order-independent reduction over alternatives (max/min,
and an *exact* sum of squares for the norms: each square is rounded onto a fixed grid of ``2^-g * P^2``, ``P`` the
power of two above the criterion's largest magnitude and ``g = min(50, 53 - ceil(log2 n))``, so that each partial sum
is exactly representable and the total does not depend on the order of summation). The grid rounds each square by
at most ``2^-(g+1) * P^2``: relative norm error is at the 1e-13 level for ordinary data (1e6 offers, uniform
values); a criterion whose values span more than ~1e6 in magnitude with most of the mass in tiny values loses
correspondingly more relative accuracy in its norm (never NaN, never out of [0, 1]).

Speed: three streaming sweeps over ``x`` (max/min; sum of squares; separations), each over blocks of
``_BLOCK`` alternatives so that the temporaries stay in cache (the loop is over blocks, never over offers).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from gpumath.arrays import F64, I64, B

T = TypeVar("T")

_BLOCK = 8192  # alternatives per block: an (8, 8192) float64 block is 512 KiB, within L2


def topsis(x: F64, weights: F64, benefit: B, *, out: F64 | None = None) -> F64:
    """Relative closeness to the ideal solution of n alternatives over m criteria.

    Args:
        x: ``float64[m, n]`` decision matrix, criteria-major (row i = criterion i in its own unit, e.g. USD per
            GPU-hour; column j = offer j). Other dtypes/layouts are converted (a copy).
        weights: ``float64[m]``, finite and >= 0, not all zero; normalised to sum 1 inside.
        benefit: ``bool[m]``; True = more is better (benefit), False = less is better (cost).
        out: optional ``float64[n]`` C-contiguous buffer to write the scores into (returned).

    Returns:
        ``float64[n]`` closeness in [0, 1]; higher is better. See the module docstring for degenerate input.

    Raises:
        ValueError: NaN/inf input, negative or all-zero weights, non-bool ``benefit``, or mismatched shapes.
    """
    xa, w, ben = _validate(x, weights, benefit)
    n = xa.shape[1]
    if out is None:
        out = np.empty(n, dtype=np.float64)
    elif out.shape != (n,) or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float64 array of shape ({n},)")
    if n == 0:
        return out

    # sweep 1: per-criterion max and min (order-independent); also the NaN/inf check (max/min propagate NaN)
    parts = _parallel(lambda a, b: _max_min(xa, a, b), n)
    hi, lo = parts[0]
    for part_hi, part_lo in parts[1:]:
        np.maximum(hi, part_hi, out=hi)
        np.minimum(lo, part_lo, out=lo)
    if not (np.isfinite(hi).all() and np.isfinite(lo).all()):
        raise ValueError("x must be finite (no NaN or inf)")

    # sweep 2: exact (order-independent) sum of squares per criterion -> scale s_i = w_i / ||x_i||
    s = _scale(xa, w, hi, lo)

    # ideal / anti-ideal of the weighted normalised matrix, per criterion
    vmax, vmin = s * hi, s * lo
    ideal = np.where(ben, vmax, vmin)
    anti = np.where(ben, vmin, vmax)

    # sweep 3: separations and closeness, block by block (temporaries stay in cache)
    _parallel(lambda a, b: _closeness(xa, s, ideal, anti, out=out, lo_col=a, hi_col=b), n)
    return out


def rank(scores: F64) -> I64:
    """Indices of ``scores`` (``float64[n]``) from best to worst; ties keep index order (stable)."""
    order: I64 = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable").astype(np.int64, copy=False)
    return order


# ---- internals ----------------------------------------------------------------------------------------------

_PARALLEL_MIN = 16 * _BLOCK  # below this, one thread (the pool's overhead is not worth it)
_POOL: ThreadPoolExecutor | None = None


def _parallel(fn: Callable[[int, int], T], n: int) -> list[T]:
    """``[fn(lo, hi) for each column range]`` over contiguous, block-aligned ranges covering ``[0, n)``.

    With ``n >= _PARALLEL_MIN`` and more than one CPU the ranges run on a thread pool (NumPy releases the GIL in
    its loops). Every caller combines the parts order-independently (max/min, exact sums, disjoint outputs), so
    the result is identical to the single-threaded one bit for bit.
    """
    global _POOL  # noqa: PLW0603 -- one lazily created pool per process (a Lambda container reuses it)
    workers = min(os.cpu_count() or 1, 4)
    if n < _PARALLEL_MIN or workers == 1:
        return [fn(0, n)]
    blocks = -(-n // _BLOCK)
    per = -(-blocks // workers) * _BLOCK
    bounds = [(a, min(a + per, n)) for a in range(0, n, per)]
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="topsis")
    futures = [_POOL.submit(fn, a, b) for a, b in bounds[1:]]
    first = fn(*bounds[0])
    return [first, *(f.result() for f in futures)]


def _validate(x: F64, weights: F64, benefit: B) -> tuple[F64, F64, B]:
    xa = np.ascontiguousarray(x, dtype=np.float64)
    if xa.ndim != 2 or xa.shape[0] == 0:
        raise ValueError(f"x must be a 2-D (m criteria, n alternatives) array with m >= 1, got shape {xa.shape}")
    m = xa.shape[0]
    wa = np.asarray(weights, dtype=np.float64)
    if wa.shape != (m,):
        raise ValueError(f"weights must have shape ({m},), got {wa.shape}")
    ben = np.asarray(benefit)
    if ben.shape != (m,):
        raise ValueError(f"benefit must have shape ({m},), got {ben.shape}")
    if ben.dtype != np.bool_:
        raise ValueError(f"benefit must be a bool array (True = benefit, False = cost), got dtype {ben.dtype}")
    if not np.isfinite(wa).all():
        raise ValueError("weights must be finite")
    if (wa < 0).any():
        raise ValueError("weights must be >= 0")
    total = float(wa.sum())
    if total <= 0.0:
        raise ValueError("at least one weight must be > 0")
    w: F64 = wa / total
    return xa, w, ben


def _max_min(x: F64, lo_col: int, hi_col: int) -> tuple[F64, F64]:
    """Per-row max and min of ``x[:, lo_col:hi_col]`` (one read, block by block)."""
    hi = x[:, lo_col : min(lo_col + _BLOCK, hi_col)].max(axis=1)
    lo = x[:, lo_col : min(lo_col + _BLOCK, hi_col)].min(axis=1)
    for k in range(lo_col + _BLOCK, hi_col, _BLOCK):
        xb = x[:, k : min(k + _BLOCK, hi_col)]
        np.maximum(hi, xb.max(axis=1), out=hi)
        np.minimum(lo, xb.min(axis=1), out=lo)
    return hi, lo


def _sum_sq_grid(x: F64, c: F64, lo_col: int, hi_col: int) -> F64:
    """Per-row sum over ``x[:, lo_col:hi_col]`` of ``x^2`` rounded onto the grid set by ``c`` (see ``_scale``)."""
    m = x.shape[0]
    sq = np.zeros(m, dtype=np.float64)
    buf = np.empty((m, min(hi_col - lo_col, _BLOCK)), dtype=np.float64)
    c_c = c[:, None]
    for start in range(lo_col, hi_col, _BLOCK):
        xb = x[:, start : min(start + _BLOCK, hi_col)]
        t = buf[:, : xb.shape[1]]
        np.multiply(xb, xb, out=t)
        np.add(t, c_c, out=t)
        np.subtract(t, c_c, out=t)
        sq += t.sum(axis=1)  # exact: every partial sum is a multiple of the grid and <= 2^(53-g) * P^2
    return sq


def _scale(x: F64, w: F64, hi: F64, lo: F64) -> F64:
    """``s_i = w_i / ||x_i||_2`` (0 for an all-zero row), with an exact, order-independent sum of squares.

    Row i is summed as ``x^2`` rounded onto the grid ``2^-g * P_i^2`` (``P_i = 2^e_i >= max |x_i|``,
    ``g = min(50, 53 - ceil(log2 n))``): rounding is ``(x^2 + C_i) - C_i`` with ``C_i = 1.5 * 2^(52-g) * P_i^2``,
    and sums of at most n grid values <= P_i^2 are exact in float64. Rows where ``x^2`` could overflow or
    underflow the grid (|x| beyond ~2^+-450) are first scaled by an exact power of two.
    """
    m, n = x.shape
    g = min(50, 53 - (n - 1).bit_length())  # (n-1).bit_length() == ceil(log2 n)
    amax = np.maximum(np.abs(hi), np.abs(lo))
    e = np.zeros(m, dtype=np.int64)
    nz = amax > 0
    e[nz] = np.frexp(amax[nz])[1]  # amax < 2^e
    # rows far from 1 in magnitude: pre-scale by 2^-k (exact) so that x^2 and C stay normal and finite
    k = np.where((e > 450) | (e < -450), e, 0)
    e_s = e - k
    c = np.ldexp(1.5, 52 - g + 2 * e_s)  # C_i
    xs = x * np.ldexp(1.0, -k)[:, None] if (k != 0).any() else x
    sq = np.zeros(m, dtype=np.float64)
    for part in _parallel(lambda a, b: _sum_sq_grid(xs, c, a, b), n):
        sq += part  # exact partial sums: the total does not depend on how the columns were split
    s = np.zeros(m, dtype=np.float64)
    pos = nz & (sq > 0)
    # s = w / (sqrt(sq) * 2^k); the 2^k factor applied by ldexp (no overflow for huge rows)
    s[pos] = np.ldexp(w[pos] / np.sqrt(sq[pos]), -k[pos])
    return s


def _closeness(x: F64, s: F64, ideal: F64, anti: F64, *, out: F64, lo_col: int, hi_col: int) -> None:
    """Write ``C_j = S-_j / (S+_j + S-_j)`` into ``out`` (n,); ``C_j = 1.0`` where ``S+_j + S-_j == 0``.

    ``S+_j^2 = sum_i (s_i x_ij - ideal_i)^2`` (and ``S-`` with ``anti``). The sum over criteria is
    ``np.add.reduce(axis=0)`` over a C-contiguous (m, b) block: row 0 + row 1 + ... in that order for every
    column, so an alternative's score does not depend on its position.
    """
    m = x.shape[0]
    width = min(hi_col - lo_col, _BLOCK)
    v = np.empty((m, width), dtype=np.float64)
    d = np.empty((m, width), dtype=np.float64)
    sp_buf = np.empty(width, dtype=np.float64)
    s_c, ideal_c, anti_c = s[:, None], ideal[:, None], anti[:, None]
    for start in range(lo_col, hi_col, _BLOCK):
        xb = x[:, start : min(start + _BLOCK, hi_col)]
        b = xb.shape[1]
        vb, db, sp, sm = v[:, :b], d[:, :b], sp_buf[:b], out[start : start + b]
        np.multiply(xb, s_c, out=vb)  # v = s * x (|v| <= w <= 1: no overflow)
        np.subtract(vb, ideal_c, out=db)
        np.multiply(db, db, out=db)
        np.add.reduce(db, axis=0, out=sp)
        np.subtract(vb, anti_c, out=vb)
        np.multiply(vb, vb, out=vb)
        np.add.reduce(vb, axis=0, out=sm)
        np.sqrt(sp, out=sp)  # S+
        np.sqrt(sm, out=sm)  # S-
        np.add(sp, sm, out=sp)  # S+ + S- (>= S-, so the ratio is <= 1)
        if sp.min() > 0.0:
            np.divide(sm, sp, out=sm)
        else:  # an alternative at both the ideal and the anti-ideal (all tie): it is at the ideal -> 1.0
            zero = sp == 0.0
            np.divide(sm, sp, out=sm, where=~zero)
            sm[zero] = 1.0
