"""Benchmark: POST /math/ensemble-recommend over 10,000 offers for one known user, warm, in-process.

Target: p99 <= 50 ms. The catalog is 10,000 offers resampled from the real ones (tests/bench/bench_offers_search.py
builds it); the CF model has 2,000 users x those offers with k = 50 factors and the user has 20 interactions, so
the personalised path runs (TOPSIS over 5 criteria + collaborative scores + content similarity to the history).
The cold-start path (anonymous) is timed too. Prints a table and a final JSON line; exit 0 when the target holds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT, ROOT / "layers" / "core", ROOT / "layers" / "math"):
    sys.path.insert(0, str(_p))

import numpy as np  # noqa: E402

import tests.bench.bench_offers_search as base  # noqa: E402 (sets sys.path and the Powertools environment)
from gpubroker.domain.providers import COMPLIANCE_TAGS  # noqa: E402
from gpubroker.services.collab import CfModel, CfModelCache  # noqa: E402
from gpubroker.services.offer_math import OfferMathCache  # noqa: E402
from gpubroker.services.search import SnapshotCache  # noqa: E402
from gpubroker.wiring.math import PersonalDeps  # noqa: E402
from gpumath.columns import OfferColumns  # noqa: E402
from tests.bench.common import UNLIMITED, InProcess, add_quick, verdict  # noqa: E402
from tests.fakes import MemoryInteractions, MemoryModelStore  # noqa: E402

N_OFFERS = 10_000
N_USERS = 2_000
K = 50
ITERATIONS = 1_000
TARGET_P99_MS = 50.0


def event(body: dict[str, object], caller: str) -> dict[str, object]:
    """A POST the authorizer let through for ``caller`` (the route acts for the signed-in user)."""
    return {
        "resource": "/math/ensemble-recommend",
        "path": "/math/ensemble-recommend",
        "httpMethod": "POST",
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {"content-type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "requestContext": {
            "resourcePath": "/math/ensemble-recommend",
            "httpMethod": "POST",
            "requestId": "b",
            "stage": "local",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": {"principalId": caller, "user_id": caller, "plan": "enterprise", "roles": "user"},
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def main(argv: list[str] | None = None) -> int:
    args = add_quick(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args(argv)
    n_offers, n_users, iterations = (500, 100, 20) if args.quick else (N_OFFERS, N_USERS, ITERATIONS)
    records = base.synthetic_offers(base.real_offers(), n_offers, base.SEED)
    cols = OfferColumns.from_records(records, compliance_vocab=COMPLIANCE_TAGS, meta={"version": "bench-ens"})
    snapshots = base.InMemorySnapshots({"version": "bench-ens"}, cols.to_bytes())
    offers = OfferMathCache(SnapshotCache(snapshots, ttl_s=3600).current)
    ids = np.sort(cols.offer_id)
    rng = np.random.default_rng(7)
    model = CfModel(
        user_ids=np.array([f"user{i:05d}" for i in range(n_users)]),
        offer_ids=ids,
        user_factors=rng.normal(scale=0.3, size=(n_users, K)),
        item_factors=rng.normal(scale=0.3, size=(ids.size, K)),
        item_counts=rng.poisson(3, size=ids.size).astype(np.float64),
        mean=3.0,
        meta={"k": K},
    )
    store = MemoryModelStore()
    store.save("cf", model.to_bytes(), model.meta)
    interactions = MemoryInteractions()
    user = "user00042"
    for oid in rng.choice(ids, size=20, replace=False):
        interactions.record(user, str(oid), "save", datetime.now(UTC))
    deps = PersonalDeps(
        offers=offers, models=CfModelCache(store, ttl_s=3600), interactions=interactions, front_door=UNLIMITED
    )
    call = InProcess("functions.api_math_ensemble_recommend.handler", deps)  # a non-2xx answer stops the run

    results = {}
    cases: list[tuple[str, str, dict[str, object]]] = [
        ("personalised", user, {"limit": 10}),
        ("cold_start", "newcomer", {"limit": 10}),  # a signed-in user with no history and no factors
    ]
    for label, caller, body in cases:
        ev = event(body, caller)
        first = time.perf_counter()
        out = call(ev)
        first_ms = (time.perf_counter() - first) * 1e3
        path = json.loads(out["body"])["path"]
        samples = []
        for _ in range(iterations):
            t = time.perf_counter_ns()
            call(ev)
            samples.append(time.perf_counter_ns() - t)
        ms = sorted(s / 1e6 for s in samples)
        results[label] = {
            "path": path,
            "first_ms": round(first_ms, 2),
            "p50_ms": round(statistics.median(ms), 3),
            "p99_ms": round(ms[int(0.99 * len(ms)) - 1], 3),
            "mean_ms": round(statistics.fmean(ms), 3),
        }
    print(f"POST /math/ensemble-recommend: {n_offers:,} offers, CF {n_users:,} users x k={K}, {iterations} calls")
    print(f"{'case':<14}{'path':<14}{'first ms':>10}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for label, r in results.items():
        print(f"{label:<14}{r['path']:<14}{r['first_ms']:>10}{r['p50_ms']:>10}{r['p99_ms']:>10}{r['mean_ms']:>10}")
    personalised = results["personalised"]["path"] == "personalised"
    ok = all(r["p99_ms"] <= TARGET_P99_MS for r in results.values()) and personalised
    print(f"target p99 <= {TARGET_P99_MS} ms: {'PASS' if ok else 'FAIL'}; answers: {call.calls}, all 2xx")
    print(json.dumps({"bench": "ensemble", "n_offers": n_offers, **results, "quick": args.quick, "pass": ok}))
    if not personalised:  # the wrong path fails a quick run too
        return 1
    return verdict(ok, quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
