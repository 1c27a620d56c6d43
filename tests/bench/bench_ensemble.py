"""Benchmark: POST /math/ensemble-recommend over 10,000 offers for one known user, warm, in-process.

Target: p99 <= 50 ms. The catalog is 10,000 offers resampled from the real ones (tests/bench/bench_offers_search.py
builds it); the CF model has 2,000 users x those offers with k = 50 factors and the user has 20 interactions, so
the personalised path runs (TOPSIS over 5 criteria + collaborative scores + content similarity to the history).
The cold-start path (anonymous) is timed too. Prints a table and a final JSON line; exit 0 when the target holds.
"""

from __future__ import annotations

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
from infra.local.runtime import LambdaContext  # noqa: E402
from tests.fakes import (  # noqa: E402
    UNLIMITED,
    MemoryInteractions,
    MemoryModelStore,
)

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


def main() -> int:
    records = base.synthetic_offers(base.real_offers(), N_OFFERS, base.SEED)
    cols = OfferColumns.from_records(records, compliance_vocab=COMPLIANCE_TAGS, meta={"version": "bench-ens"})
    snapshots = base.InMemorySnapshots({"version": "bench-ens"}, cols.to_bytes())
    offers = OfferMathCache(SnapshotCache(snapshots, ttl_s=3600).current)
    ids = np.sort(cols.offer_id)
    rng = np.random.default_rng(7)
    model = CfModel(
        user_ids=np.array([f"user{i:05d}" for i in range(N_USERS)]),
        offer_ids=ids,
        user_factors=rng.normal(scale=0.3, size=(N_USERS, K)),
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
    handler = __import__("functions.api_math_ensemble_recommend.handler", fromlist=["lambda_handler"]).lambda_handler

    results = {}
    cases: list[tuple[str, str, dict[str, object]]] = [
        ("personalised", user, {"limit": 10}),
        ("cold_start", "newcomer", {"limit": 10}),  # a signed-in user with no history and no factors
    ]
    for label, caller, body in cases:
        ev = event(body, caller)
        first = time.perf_counter()
        ctx = LambdaContext(function_name="ApiMathEnsembleRecommendFunction")
        out = handler(ev, ctx, deps=deps)
        first_ms = (time.perf_counter() - first) * 1e3
        assert out["statusCode"] == 200, out["body"]
        path = json.loads(out["body"])["path"]
        samples = []
        for _ in range(ITERATIONS):
            t = time.perf_counter_ns()
            res = handler(ev, ctx, deps=deps)
            samples.append(time.perf_counter_ns() - t)
            assert res["statusCode"] == 200
        ms = sorted(s / 1e6 for s in samples)
        results[label] = {
            "path": path,
            "first_ms": round(first_ms, 2),
            "p50_ms": round(statistics.median(ms), 3),
            "p99_ms": round(ms[int(0.99 * len(ms)) - 1], 3),
            "mean_ms": round(statistics.fmean(ms), 3),
        }
    print(f"POST /math/ensemble-recommend: {N_OFFERS:,} offers, CF {N_USERS:,} users x k={K}, {ITERATIONS} calls")
    print(f"{'case':<14}{'path':<14}{'first ms':>10}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for label, r in results.items():
        print(f"{label:<14}{r['path']:<14}{r['first_ms']:>10}{r['p50_ms']:>10}{r['p99_ms']:>10}{r['mean_ms']:>10}")
    ok = (
        all(r["p99_ms"] <= TARGET_P99_MS for r in results.values())
        and results["personalised"]["path"] == "personalised"
    )
    print(f"target p99 <= {TARGET_P99_MS} ms: {'PASS' if ok else 'FAIL'}")
    print(json.dumps({"bench": "ensemble", "n_offers": N_OFFERS, **results, "pass": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
