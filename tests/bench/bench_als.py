"""Benchmark: explicit ALS-WR (``gpumath.als.als_wr``) against the ``implicit`` library's CPU ALS, k = 50.

Targets: seconds per sweep within 1.5x of ``implicit.cpu.als.AlternatingLeastSquares`` (factors=50,
regularization=0.1, calculate_training_loss=False) on 10k users x 5k items at 1 % density and on 100k x 20k at
0.1 %, with the same thread count on both sides; held-out RMSE <= 0.8 on a synthetic rank-10 benchmark.

Method
- Data: the synthetic rank-10 model below, cells drawn uniformly (``np.unique`` of random cell ids, so a few
  collisions make nnz slightly under the nominal density). The parent writes each CSR to an ``.npz``; every
  measurement runs in a fresh subprocess that loads it, so imports and data are identical on both sides.
- Threads: BLAS is limited to 1 thread (threadpoolctl) on both sides, as ``implicit`` recommends; ``implicit``
  gets ``num_threads=T`` and ours ``n_threads=T`` (a thread pool over row batches). T = 2 (both cores) is the
  gating configuration; T = 1 is reported alongside.
- Time per sweep: median over ``SWEEPS`` sweeps after one warm-up sweep, taken from per-sweep callbacks (ours:
  ``callback`` of ``als_wr``, which includes our float64 objective evaluation; implicit: the ``callback`` of
  ``fit``, whose elapsed covers the two solver calls only). For implicit the spec's literal method is reported
  too: wall time of repeated ``fit`` calls with ``iterations=1`` (this adds its per-call CSR transpose). The
  ratio uses the pure sweep (the stricter of the two). The machine is shared: each side is run ``ROUNDS`` times,
  alternating, and the smallest median is kept.
- Peak memory, each in its own fresh subprocess over a 2-sweep fit (setup included): (a) tracemalloc peak
  (sees NumPy/SciPy array allocations, not raw C++ mallocs inside ``implicit``); (b) resident-set high-water
  growth over the fit: ``VmHWM`` from /proc/self/status, reset to the current RSS just before the fit through
  /proc/self/clear_refs (``ru_maxrss`` is useless here: Linux carries the parent's peak across execve). The
  process has already loaded the data, so both numbers are what fitting adds.
- RMSE: the 10k x 5k rank-10 set split 90/10 at random (seeded); ours fitted with k = 50, ALS-WR lambda = 0.1,
  tol 1e-6, at most 100 sweeps; baseline = predicting the training mean.

Synthetic rank-10 model: U (n_users, 10), V (n_items, 10) standard normal, z = U V^T / sqrt(10) (unit variance),
rating = clip(round(3 + 0.9 z + N(0, 0.35^2)), 1, 5). Variance ~0.81 + 0.12 + 1/12 (rounding) less a little
clipping, so predicting the mean scores ~0.96-0.97 RMSE; the noise floor (noise + rounding) is ~0.45. The score
depends on that split: with 0.8 z + N(0, 0.45^2) (mean baseline 0.93) ours measured 0.788, with 0.85 z +
N(0, 0.45^2) (baseline 0.96) 0.793, with 0.9 z + N(0, 0.35^2) 0.722 (FIELD-NOTES: 0.735 against 0.97).

Run: ``.venv/bin/python tests/bench/bench_als.py`` from the repository root. Prints a table and a final JSON
line; exits 0 when the targets are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "layers" / "math") not in sys.path:
    sys.path.insert(0, str(ROOT / "layers" / "math"))

from gpumath.als import als_wr, csr_from_coo, predict  # noqa: E402

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tests.bench.common import add_quick, verdict  # noqa: E402

SHAPES = [("10k x 5k @1%", 10_000, 5_000, 0.01), ("100k x 20k @0.1%", 100_000, 20_000, 0.001)]
QUICK_SHAPES = [("600 x 300 @5%", 600, 300, 0.05)]  # --quick: ours only (implicit is the bench group's)
K = 50
LAM = 0.1
SWEEPS = 7
ROUNDS = 2
THREADS_GATE = 2
TARGET_RATIO = 1.5
TARGET_RMSE = 0.8
SEED = 20240611


def synthetic(n_users: int, n_items: int, density: float, seed: int) -> tuple[Any, Any, Any]:
    """(users, items, ratings) of the rank-10 model, ~density * n_users * n_items distinct cells."""
    rng = np.random.default_rng(seed)
    cells = np.unique(rng.integers(0, n_users * n_items, int(density * n_users * n_items), dtype=np.int64))
    cells = rng.permutation(cells)
    users, items = cells // n_items, cells % n_items
    u = rng.standard_normal((n_users, 10))
    v = rng.standard_normal((n_items, 10))
    z = np.einsum("ij,ij->i", u[users], v[items]) / np.sqrt(10.0)
    ratings = np.clip(np.round(3.0 + 0.9 * z + rng.normal(0.0, 0.35, z.size)), 1.0, 5.0)
    return users, items, ratings


# ---- child processes ----------------------------------------------------------------------------------------


def _child(mode: str, side: str, threads: int, path: str) -> dict[str, Any]:
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:  # the bench group's; a quick run of ours goes without the BLAS limit
        if side != "ours":
            raise
        import contextlib

        def threadpool_info() -> list[dict[str, Any]]:
            return []

        def threadpool_limits(*_args: Any) -> contextlib.nullcontext[None]:
            return contextlib.nullcontext()

    z = np.load(path)
    indptr, indices, data, n_items = z["indptr"], z["indices"], z["data"], int(z["n_items"])
    n_users = indptr.size - 1
    out: dict[str, Any] = {}
    with threadpool_limits(1, "blas"):
        out["threadpool"] = [
            {k: d.get(k) for k in ("internal_api", "num_threads", "threading_layer")} for d in threadpool_info()
        ]
        if side == "ours":
            stamps: list[float] = []

            def fit(sweeps: int) -> None:
                als_wr(
                    indptr, indices, data, n_items, k=K, lam=LAM, tol=0.0, max_sweeps=sweeps,
                    rng=np.random.default_rng(0), n_threads=threads,
                    callback=lambda _s, _j: stamps.append(time.perf_counter()),
                )  # fmt: skip

        else:
            import scipy.sparse as sp
            from implicit.cpu.als import AlternatingLeastSquares

            m = sp.csr_matrix((data.astype(np.float32), indices, indptr), shape=(n_users, n_items))
            elapsed: list[float] = []

            def fit(sweeps: int) -> None:
                model = AlternatingLeastSquares(
                    factors=K, regularization=LAM, iterations=sweeps, calculate_training_loss=False,
                    num_threads=threads, random_state=0,
                )  # fmt: skip
                model.fit(m, show_progress=False, callback=lambda _i, el, _l: elapsed.append(el))

        if mode == "time":
            t0 = time.perf_counter()
            fit(1 + SWEEPS)
            if side == "ours":
                out["sweep_s"] = statistics.median(np.diff(np.array([t0, *stamps]))[1:].tolist())
            else:
                out["sweep_s"] = statistics.median(elapsed[1:])
                model = AlternatingLeastSquares(
                    factors=K, regularization=LAM, iterations=1, calculate_training_loss=False,
                    num_threads=threads, random_state=0,
                )  # fmt: skip
                model.fit(m, show_progress=False)  # warm-up
                walls = []
                for _ in range(SWEEPS):
                    t = time.perf_counter()
                    model.fit(m, show_progress=False)
                    walls.append(time.perf_counter() - t)
                out["fit1_s"] = statistics.median(walls)
        elif mode == "rss":
            # ru_maxrss survives execve (it would report the parent's peak); use this mm's VmHWM, reset to
            # the current RSS through /proc/self/clear_refs ("5"), and take its growth over the fit.
            Path("/proc/self/clear_refs").write_text("5")
            before = _status_kb("VmRSS")
            fit(2)
            out["rss_mb"] = (_status_kb("VmHWM") - before) / 1024.0
        else:
            tracemalloc.start()
            fit(2)
            out["trace_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
    return out


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _spawn(mode: str, side: str, threads: int, path: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", mode, "--side", side, "--threads", str(threads), "--npz", path]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    res = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"child {mode}/{side} failed:\n{res.stderr}")
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


# ---- parent -------------------------------------------------------------------------------------------------


def _rmse_benchmark(quick: bool = False) -> dict[str, Any]:
    n_users, n_items, density = (600, 300, 0.05) if quick else (10_000, 5_000, 0.01)
    users, items, ratings = synthetic(n_users, n_items, density, SEED + 1)
    rng = np.random.default_rng(SEED + 2)
    test = rng.random(ratings.size) < 0.1
    tr = ~test
    indptr, indices, data = csr_from_coo(users[tr], items[tr], ratings[tr], n_users, n_items)
    t = time.perf_counter()
    res = als_wr(indptr, indices, data, n_items, k=K, lam=LAM, tol=1e-6, max_sweeps=100, rng=rng, n_threads=2)
    fit_s = time.perf_counter() - t
    pred = predict(res.user_factors, res.item_factors, users[test], items[test])
    rmse = float(np.sqrt(np.mean((pred - ratings[test]) ** 2)))
    base = float(np.sqrt(np.mean((data.mean() - ratings[test]) ** 2)))
    steps = np.diff(res.objective)
    return {
        "rmse": rmse,
        "mean_baseline_rmse": base,
        "rating_std": float(ratings.std()),
        "sweeps": res.sweeps,
        "converged": res.converged,
        "fit_s": fit_s,
        "max_rel_increase": float(max(0.0, (steps / res.objective[:-1]).max())),
        "n_train": int(data.size),
        "n_test": int(test.sum()),
    }


def main(quick: bool = False) -> int:
    rows: list[dict[str, Any]] = []
    sides = ("ours",) if quick else ("ours", "implicit")
    with tempfile.TemporaryDirectory() as tmp:
        for si, (name, n_users, n_items, dens) in enumerate(QUICK_SHAPES if quick else SHAPES):
            users, items, ratings = synthetic(n_users, n_items, dens, SEED + 10 + si)
            indptr, indices, data = csr_from_coo(users, items, ratings, n_users, n_items)
            path = str(Path(tmp) / f"shape{si}.npz")
            np.savez(path, indptr=indptr, indices=indices.astype(np.int32), data=data, n_items=n_items)
            for threads in (THREADS_GATE,) if quick else (THREADS_GATE, 1):
                rounds = ROUNDS if threads == THREADS_GATE and not quick else 1
                best: dict[str, dict[str, Any]] = {}
                for _ in range(rounds):
                    for side in sides:
                        r = _spawn("time", side, threads, path)
                        if side not in best or r["sweep_s"] < best[side]["sweep_s"]:
                            best[side] = r
                for side in sides:
                    best[side].update(_spawn("rss", side, threads, path))
                    best[side].update(_spawn("trace", side, threads, path))
                if quick:  # no peer: its columns repeat ours
                    best["implicit"] = {**best["ours"], "fit1_s": best["ours"]["sweep_s"]}
                rows.append(
                    {
                        "shape": name,
                        "nnz": int(data.size),
                        "threads": threads,
                        "ours_s": best["ours"]["sweep_s"],
                        "implicit_s": best["implicit"]["sweep_s"],
                        "implicit_fit1_s": best["implicit"]["fit1_s"],
                        "ratio": best["ours"]["sweep_s"] / best["implicit"]["sweep_s"],
                        "ours_trace_mb": best["ours"]["trace_mb"],
                        "implicit_trace_mb": best["implicit"]["trace_mb"],
                        "ours_rss_mb": best["ours"]["rss_mb"],
                        "implicit_rss_mb": best["implicit"]["rss_mb"],
                        "threadpool": best["ours"]["threadpool"],
                    }
                )
    quality = _rmse_benchmark(quick)

    print(f"{'shape':<18}{'nnz':>9}{'thr':>4}{'ours s':>9}{'impl s':>9}{'impl fit1':>10}{'ratio':>7}"
          f"{'ours MB':>9}{'impl MB':>9}{'ours RSS':>9}{'impl RSS':>9}")  # fmt: skip
    for r in rows:
        print(
            f"{r['shape']:<18}{r['nnz']:>9}{r['threads']:>4}{r['ours_s']:>9.4f}{r['implicit_s']:>9.4f}"
            f"{r['implicit_fit1_s']:>10.4f}{r['ratio']:>7.2f}{r['ours_trace_mb']:>9.1f}"
            f"{r['implicit_trace_mb']:>9.1f}{r['ours_rss_mb']:>9.1f}{r['implicit_rss_mb']:>9.1f}"
        )
    print(f"threadpool (BLAS limited inside the children): {rows[0]['threadpool']}")
    print(
        f"rank-10 10k x 5k held-out RMSE: ours {quality['rmse']:.4f} (target <= {TARGET_RMSE}), "
        f"mean baseline {quality['mean_baseline_rmse']:.4f}; sweeps {quality['sweeps']}, "
        f"converged {quality['converged']}, fit {quality['fit_s']:.1f} s, "
        f"max relative objective increase {quality['max_rel_increase']:.2e}"
    )
    gate = [r for r in rows if r["threads"] == THREADS_GATE]
    ok = all(r["ratio"] <= TARGET_RATIO for r in gate) and quality["rmse"] <= TARGET_RMSE
    for r in rows:
        r.pop("threadpool")
    summary = {"ok": ok, "threads_gate": THREADS_GATE, "rows": rows, "quality": quality, "quick": quick}
    print(json.dumps(summary, sort_keys=True))
    return verdict(ok, quick=quick)


if __name__ == "__main__":
    ap = add_quick(argparse.ArgumentParser())
    ap.add_argument("--child", choices=["time", "rss", "trace"])
    ap.add_argument("--side", choices=["ours", "implicit"], default="ours")
    ap.add_argument("--threads", type=int, default=THREADS_GATE)
    ap.add_argument("--npz", default="")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.side, args.threads, args.npz)))
        sys.exit(0)
    sys.exit(main(args.quick))
