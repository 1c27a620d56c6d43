"""Explicit-feedback matrix factorisation by alternating least squares with weighted regularisation (ALS-WR).

Model: a rating ``r_ui`` (any finite unit, e.g. stars 1-5) is approximated by ``x_u . y_i`` with user factors
``X (n_users, k)`` and item factors ``Y (n_items, k)``. Objective over the observed entries ``Omega`` (CSR)::

    J(X, Y) = sum_{(u,i) in Omega} (r_ui - x_u . y_i)^2 + lam * (sum_u n_u ||x_u||^2 + sum_i n_i ||y_i||^2)

with ``n_u`` / ``n_i`` the number of observed entries in user row u / item column i (ALS-WR, Zhou et al. 2008;
FIELD-NOTES "Math baselines": plain lambda overfits, held-out RMSE 1.35 vs 0.735 for ALS-WR).

Solver: each half-step fixes one side and lowers every row's ridge objective
``(V_u^T V_u + lam n_u I) x_u = V_u^T r_u`` with ``cg_steps`` steps of conjugate gradient, warm-started from the
current factors, batched over rows (no Python loop over users or items, only over a few hundred cache-sized
batches). Rows are grouped by interaction count (stable sort) into batches whose padded gather ``V[idx]`` of
shape ``(B, c, k)`` is ~2 MiB, so the ``A p = V^T (V p) + lam n p`` products of all CG steps run on cache-resident
data with batched BLAS ``gemv`` (``np.matmul``); padding points at an all-zero sentinel factor row and so adds
nothing. CG from a warm start never increases a row's quadratic, and the rows are independent, so ``J`` never
increases between half-steps; the objective after each half-step is evaluated in float64.

Precision choice (measured on this 2-core machine, k = 50, 10k users x 5k items at 1 %, one thread, s/sweep):
exact ``np.linalg.solve`` on stacked normal equations 0.25 (FIELD-NOTES); batched CG float64 0.15, float32 0.073
(0.14 with the float64 objective pass); ``implicit`` CPU ALS 0.156. Factors are therefore float32 (returned as
such); the objective, the convergence test and the data values stay float64. ``n_threads=2`` helps little
(10k x 5k: 0.11 -> 0.09 s; 100k x 20k: none): many small batched OpenBLAS gemv calls scale ~1.2x across threads.

Empty rows/columns (no interactions) get zero factors: they do not enter ``J``. Duplicate ``(u, i)`` pairs inside
the CSR count as repeated observations; build the CSR with :func:`csr_from_coo` to collapse them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gpumath.arrays import F64, I64

F32 = NDArray[np.float32]
IP = NDArray[np.intp]

MAX_K = 256
BATCH_BYTES = 2 << 20  # target size of one padded float32 gather (B, c, k); 1-8 MiB measured within 10 %
_PAD_GROWTH = 1.25  # a batch holds rows whose counts lie within [c, max(1.25 c, c + 8)]: padding waste <= ~25 %
_OBJECTIVE_CHUNK = 1 << 18  # nnz per chunk in objective() / predict()


@dataclass(frozen=True)
class AlsResult:
    """Fitted factors and the optimisation trace.

    ``objective[0]`` is J at the initial factors, ``objective[j]`` J after half-step j (odd j: users solved,
    even j: items solved); ``objective[-1]`` is J of the returned factors. ``sweeps`` = completed sweeps
    (one sweep = users then items), ``converged`` = the last sweep changed J by <= ``tol`` relatively.
    """

    user_factors: F32  # (n_users, k)
    item_factors: F32  # (n_items, k)
    objective: F64  # (1 + 2 * sweeps,)
    sweeps: int
    converged: bool


@dataclass(frozen=True)
class _Batch:
    rows: IP  # (B,) rows being solved
    idx: NDArray[np.integer[Any]]  # (B, c) int32 column ids into the other side; padding = sentinel zero row
    val: F64  # (B, c) observed values, padding = 0
    lamn: F32  # (B, 1) lam * n_row


# ---- public helpers -----------------------------------------------------------------------------------------


def csr_from_coo(
    users: ArrayLike,
    items: ArrayLike,
    values: ArrayLike,
    n_users: int,
    n_items: int,
    *,
    duplicates: Literal["last", "sum"] = "last",
) -> tuple[I64, I64, F64]:
    """COO triples (m,) -> CSR ``(indptr (n_users + 1,), indices (nnz,), data (nnz,))``, columns sorted per row.

    Duplicate ``(user, item)`` pairs: ``"last"`` (default) keeps the value that comes last in input order (a
    re-rating replaces the old one); ``"sum"`` adds them up (counts, weights). Out-of-range ids, mismatched
    lengths or non-finite values raise ``ValueError``.
    """
    if n_users < 0 or n_items < 0:
        raise ValueError("n_users and n_items must be >= 0")
    u = _as_index(users, "users")
    i = _as_index(items, "items")
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if not (u.shape == i.shape == v.shape):
        raise ValueError("users, items and values must have the same length")
    if u.size and (u.min() < 0 or u.max() >= n_users or i.min() < 0 or i.max() >= n_items):
        raise ValueError("user or item id out of range")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite")
    key = u * np.int64(max(n_items, 1)) + i
    order = np.argsort(key, kind="stable")
    key_s = key[order]
    v_s = v[order]
    new = np.ones(key_s.shape, dtype=np.bool_)
    new[1:] = key_s[1:] != key_s[:-1]
    if duplicates == "last":
        last = np.ones(key_s.shape, dtype=np.bool_)
        last[:-1] = new[1:]
        keep_key, data = key_s[last], v_s[last]
    elif duplicates == "sum":
        starts = np.flatnonzero(new)
        keep_key = key_s[starts]
        data = np.add.reduceat(v_s, starts) if starts.size else v_s[:0]
    else:
        raise ValueError("duplicates must be 'last' or 'sum'")
    row = keep_key // max(n_items, 1)
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n_users), out=indptr[1:])
    return indptr, (keep_key % max(n_items, 1)).astype(np.int64), data.astype(np.float64)


def objective(
    indptr: ArrayLike,
    indices: ArrayLike,
    data: ArrayLike,
    user_factors: ArrayLike,
    item_factors: ArrayLike,
    *,
    lam: float,
) -> float:
    """J(X, Y) in float64 (units of ``data`` squared): squared errors on the CSR entries + the ALS-WR penalty."""
    ip, ind, val, _ = _check_csr(indptr, indices, data, None)
    x = np.asarray(user_factors, dtype=np.float64)
    y = np.asarray(item_factors, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError("factors must be 2-D with the same number of columns")
    if x.shape[0] != ip.size - 1 or (ind.size and int(ind.max()) >= y.shape[0]):
        raise ValueError("factor shapes do not match the CSR")
    if not (math.isfinite(lam) and lam >= 0):
        raise ValueError("lam must be finite and >= 0")
    rows = np.repeat(np.arange(ip.size - 1, dtype=np.intp), np.diff(ip))
    sse = 0.0
    for s in range(0, ind.size, _OBJECTIVE_CHUNK):
        sl = slice(s, s + _OBJECTIVE_CHUNK)
        e = val[sl] - np.einsum("ij,ij->i", x[rows[sl]], y[ind[sl]])
        sse += float(np.dot(e, e))
    n_u = np.diff(ip).astype(np.float64)
    n_i = np.bincount(ind, minlength=y.shape[0]).astype(np.float64)
    return sse + lam * (float(n_u @ np.einsum("ij,ij->i", x, x)) + float(n_i @ np.einsum("ij,ij->i", y, y)))


def predict(user_factors: ArrayLike, item_factors: ArrayLike, users: ArrayLike, items: ArrayLike) -> F64:
    """Predicted ratings ``x_u . y_i`` (m,) float64 for index pairs ``users`` (m,), ``items`` (m,)."""
    x = np.asarray(user_factors)
    y = np.asarray(item_factors)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError("factors must be 2-D with the same number of columns")
    u = _as_index(users, "users")
    i = _as_index(items, "items")
    if u.shape != i.shape:
        raise ValueError("users and items must have the same length")
    if u.size and (u.min() < 0 or u.max() >= x.shape[0] or i.min() < 0 or i.max() >= y.shape[0]):
        raise ValueError("user or item index out of range")
    out = np.empty(u.shape, dtype=np.float64)
    for s in range(0, u.size, _OBJECTIVE_CHUNK):
        sl = slice(s, s + _OBJECTIVE_CHUNK)
        out[sl] = np.einsum("ij,ij->i", x[u[sl]].astype(np.float64), y[i[sl]].astype(np.float64))
    return out


def top_n(user_vec: ArrayLike, item_factors: ArrayLike, n: int, exclude: ArrayLike | None = None) -> I64:
    """The ``n`` best items for one user, (min(n, available),) int64, best first; ties -> lower item index.

    ``user_vec`` (k,), ``item_factors`` (n_items, k); ``exclude`` = item indices never returned (e.g. already
    rated). Scores are ``item_factors @ user_vec`` in float64.
    """
    v = np.asarray(user_vec, dtype=np.float64)
    y = np.asarray(item_factors, dtype=np.float64)
    if y.ndim != 2 or v.shape != (y.shape[1],):
        raise ValueError("user_vec must be (k,) and item_factors (n_items, k)")
    if n < 0:
        raise ValueError("n must be >= 0")
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(y))):
        raise ValueError("factors must be finite")
    scores = y @ v
    cand = np.arange(y.shape[0], dtype=np.int64)
    if exclude is not None:
        ex = _as_index(exclude, "exclude")
        if ex.size and (ex.min() < 0 or ex.max() >= y.shape[0]):
            raise ValueError("exclude index out of range")
        keep = np.ones(y.shape[0], dtype=np.bool_)
        keep[ex] = False
        cand = cand[keep]
    m = min(n, cand.size)
    if m == 0:
        return np.empty(0, dtype=np.int64)
    s = scores[cand]
    if m < cand.size:  # keep everything tied with the m-th best, then order deterministically
        thresh = np.partition(s, cand.size - m)[cand.size - m]
        sel = s >= thresh
        cand, s = cand[sel], s[sel]
    order = np.lexsort((cand, -s))
    return cand[order[:m]]


# ---- the solver ---------------------------------------------------------------------------------------------


def als_wr(
    indptr: ArrayLike,
    indices: ArrayLike,
    data: ArrayLike,
    n_items: int,
    *,
    k: int = 50,
    lam: float = 0.1,
    tol: float = 1e-6,
    max_sweeps: int = 100,
    cg_steps: int = 3,
    rng: np.random.Generator,
    n_threads: int = 1,
    callback: Callable[[int, float], None] | None = None,
) -> AlsResult:
    """Fit ``X (n_users, k)``, ``Y (n_items, k)`` to a user x item CSR of explicit ratings by ALS-WR.

    ``indptr`` (n_users + 1,), ``indices`` (nnz,) item ids in ``[0, n_items)``, ``data`` (nnz,) finite ratings.
    Stops when a sweep lowers J by at most ``tol * J`` (``converged=True``) or after ``max_sweeps`` sweeps.
    Item factors start as N(0, s^2) with ``s = sqrt(rms(data) / k)`` drawn from ``rng`` (user factors start at
    0), so a fit is a deterministic function of the inputs and the generator state; ``n_threads`` > 1 runs the
    row batches on a thread pool (NumPy releases the GIL) and gives bit-identical results. ``callback(sweep, J)``
    is called after every sweep (benchmarks time sweeps with it).
    Raises ``ValueError`` on a malformed CSR, non-finite data, k outside 1..256, lam <= 0, tol < 0,
    max_sweeps < 1, cg_steps < 1 or n_threads < 1.
    """
    if not (isinstance(k, (int, np.integer)) and 1 <= k <= MAX_K):
        raise ValueError(f"k must be an integer in 1..{MAX_K}")
    if not (math.isfinite(lam) and lam > 0):
        raise ValueError("lam must be finite and > 0")
    if not (math.isfinite(tol) and tol >= 0):
        raise ValueError("tol must be finite and >= 0")
    if max_sweeps < 1 or cg_steps < 1 or n_threads < 1:
        raise ValueError("max_sweeps, cg_steps and n_threads must be >= 1")
    ip, ind, val, _ = _check_csr(indptr, indices, data, n_items)
    n_users = ip.size - 1
    k = int(k)

    n_u = np.diff(ip)
    n_i = np.bincount(ind, minlength=n_items)
    user_plan = _plan(ip, ind, val, n_items, lam=lam, k=k)
    item_plan = _plan(*_transpose(ip, ind, val, n_items), n_users, lam=lam, k=k)

    # factors carry one extra all-zero row: the target of padded indices
    x = np.zeros((n_users + 1, k), dtype=np.float32)
    y = np.zeros((n_items + 1, k), dtype=np.float32)
    scale = math.sqrt(math.sqrt(float(val @ val) / val.size) / k) if val.size else 0.0
    y[:n_items] = (rng.standard_normal((n_items, k)) * scale).astype(np.float32)
    y[:n_items][n_i == 0] = 0.0

    sse0 = float(val @ val)  # X = 0
    history = [sse0 + lam * _penalty(y[:n_items], n_i)]
    sweeps, converged = 0, False
    pool = ThreadPoolExecutor(max_workers=n_threads) if n_threads > 1 else None
    try:
        run = _runner(pool)
        while sweeps < max_sweeps and not converged:
            if history[-1] == 0.0:  # nothing to fit (no data or all-zero data): already optimal
                converged = True
                break
            sse = _half_step(x, y, user_plan, cg_steps, run)
            history.append(sse + lam * (_penalty(x[:n_users], n_u) + _penalty(y[:n_items], n_i)))
            sse = _half_step(y, x, item_plan, cg_steps, run)
            history.append(sse + lam * (_penalty(x[:n_users], n_u) + _penalty(y[:n_items], n_i)))
            sweeps += 1
            prev, now = history[-3], history[-1]
            converged = abs(prev - now) <= tol * prev
            if callback is not None:
                callback(sweeps, now)
    finally:
        if pool is not None:
            pool.shutdown()
    return AlsResult(
        user_factors=x[:n_users].copy(),
        item_factors=y[:n_items].copy(),
        objective=np.asarray(history, dtype=np.float64),
        sweeps=sweeps,
        converged=converged,
    )


# ---- internals ----------------------------------------------------------------------------------------------


def _runner(pool: ThreadPoolExecutor | None) -> Callable[[Callable[[_Batch], float], list[_Batch]], list[float]]:
    def run(fn: Callable[[_Batch], float], batches: list[_Batch]) -> list[float]:
        it: Iterable[float] = map(fn, batches) if pool is None else pool.map(fn, batches)
        return list(it)  # in batch order: the float64 sum below is identical for any thread count

    return run


def _half_step(
    x: F32,
    y: F32,
    plan: list[_Batch],
    cg_steps: int,
    run: Callable[[Callable[[_Batch], float], list[_Batch]], list[float]],
) -> float:
    """Lower every row of ``x`` (n_rows + 1, k) against ``y`` (n_cols + 1, k) in place; returns the new SSE.

    Batches touch disjoint rows of ``x`` and only read ``y``, so they may run concurrently.
    """

    def solve(b: _Batch) -> float:
        g = np.take(y, b.idx.astype(np.intp), axis=0)  # (B, c, k) float32, padding rows are 0 (2-3x faster than y[idx])
        gt = g.transpose(0, 2, 1)
        xb = np.take(x, b.rows, axis=0)  # (B, k)

        def apply(p: F32) -> F32:  # A p = G^T (G p) + lam n p, (B, k)
            out: F32 = np.matmul(gt, np.matmul(g, p[:, :, None]))[:, :, 0] + b.lamn * p
            return out

        t = np.matmul(g, xb[:, :, None])[:, :, 0]
        r = np.matmul(gt, (b.val.astype(np.float32) - t)[:, :, None])[:, :, 0] - b.lamn * xb  # b - A x0
        p = r.copy()
        rs = np.einsum("ij,ij->i", r, r)
        for _ in range(cg_steps):
            ap = apply(p)
            pap = np.einsum("ij,ij->i", p, ap)
            alpha = np.divide(rs, pap, out=np.zeros_like(rs), where=(pap > 0) & np.isfinite(pap))
            xb += alpha[:, None] * p
            r -= alpha[:, None] * ap
            rs_new = np.einsum("ij,ij->i", r, r)
            beta = np.divide(rs_new, rs, out=np.zeros_like(rs), where=rs > 0)
            p = r + beta[:, None] * p
            rs = rs_new
        x[b.rows] = xb
        # SSE of the stored float32 factors, evaluated in float64 (float32 rounding here is ~1e-8 relative)
        e = b.val - np.matmul(g.astype(np.float64), xb.astype(np.float64)[:, :, None])[:, :, 0]
        return float(np.einsum("ij,ij->", e, e))

    return math.fsum(run(solve, plan))


def _transpose(indptr: I64, indices: IP, data: F64, n_cols: int) -> tuple[I64, IP, F64]:
    """CSR (rows x cols) -> CSR of the transpose; stable argsort keeps rows ascending inside each column."""
    by_col = np.argsort(indices, kind="stable")
    rows = np.repeat(np.arange(indptr.size - 1, dtype=np.intp), np.diff(indptr))
    indptr_t = np.zeros(n_cols + 1, dtype=np.int64)
    np.cumsum(np.bincount(indices, minlength=n_cols), out=indptr_t[1:])
    return indptr_t, rows[by_col], data[by_col]


def _penalty(f: F32, counts: NDArray[Any]) -> float:
    """sum_r n_r ||f_r||^2 in float64."""
    f64 = f.astype(np.float64)
    return float(counts.astype(np.float64) @ np.einsum("ij,ij->i", f64, f64))


def _plan(indptr: I64, indices: NDArray[Any], data: F64, n_cols: int, *, lam: float, k: int) -> list[_Batch]:
    """Padded per-batch gathers for the rows of a CSR, rows ordered by interaction count (stable).

    The loop runs over batches (a few hundred for the benchmark shapes), each built with vectorised NumPy.
    """
    counts = np.diff(indptr)
    order = np.argsort(counts, kind="stable")
    order = order[counts[order] > 0]  # empty rows keep their zero factor
    c = counts[order]
    budget = max(1, BATCH_BYTES // (4 * k))  # padded entries per batch
    idx_dtype = np.int32 if n_cols < np.iinfo(np.int32).max else np.int64
    batches: list[_Batch] = []
    s, n = 0, order.size
    while s < n:
        c0 = int(c[s])
        lim = int(np.searchsorted(c, max(int(_PAD_GROWTH * c0), c0 + 8), side="right"))
        e = max(s + 1, min(lim, s + budget // int(c[lim - 1])))
        rows = order[s:e].astype(np.intp)
        cnt = c[s:e]
        width = int(cnt[-1])
        pos = np.arange(width)[None, :]
        mask = pos < cnt[:, None]
        src = np.where(mask, indptr[rows][:, None] + pos, 0)
        batches.append(
            _Batch(
                rows=rows,
                idx=np.where(mask, indices[src], n_cols).astype(idx_dtype),
                val=np.where(mask, data[src], 0.0).astype(np.float64),
                lamn=(lam * cnt.astype(np.float64)).astype(np.float32)[:, None],
            )
        )
        s = e
    return batches


def _as_index(a: ArrayLike, name: str) -> I64:
    arr = np.asarray(a).reshape(-1)
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be integers")
    return arr.astype(np.int64)


def _check_csr(indptr: ArrayLike, indices: ArrayLike, data: ArrayLike, n_items: int | None) -> tuple[I64, IP, F64, int]:
    ip = _as_index(indptr, "indptr")
    ind = _as_index(indices, "indices").astype(np.intp)
    val = np.asarray(data, dtype=np.float64).reshape(-1)
    if ip.size < 1 or ip[0] != 0 or np.any(np.diff(ip) < 0):
        raise ValueError("indptr must start at 0 and be non-decreasing")
    if int(ip[-1]) != ind.size or ind.size != val.size:
        raise ValueError("indptr[-1], len(indices) and len(data) must agree")
    if n_items is not None:
        if n_items < 0:
            raise ValueError("n_items must be >= 0")
        if ind.size and (ind.min() < 0 or ind.max() >= n_items):
            raise ValueError("item index out of range")
    elif ind.size and ind.min() < 0:
        raise ValueError("item index out of range")
    if not np.all(np.isfinite(val)):
        raise ValueError("data must be finite")
    return ip, ind, val, n_items if n_items is not None else (int(ind.max()) + 1 if ind.size else 0)
