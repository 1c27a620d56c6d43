"""Benchmark: provider-adapter parsing + ``normalise()`` throughput, HTTP excluded.

Every API adapter (RunPod, Vast, Lambda, Shadeform, Verda, AWS, GCP, Azure) runs its real ``rows()`` against the
recorded answers in ``tests/fixtures/providers`` served in-process (a ``HttpClient`` whose ``request_json``
answers from :class:`tests.fixtures.providers.wire.Replay`, so no sockets). Rounds are repeated until at least
``--min-offers`` (default 100,000) raw offers exist; then every raw offer goes through ``normalise``.

Target: >= 50,000 raw offers per second for parse + normalise together.
Run: ``.venv/bin/python tests/bench/bench_normalise.py [--min-offers N] [--profile]`` from the repository root.
Prints a table and a final JSON line; exits 0 when the target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for extra in (ROOT / "layers" / "core", ROOT):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from gpubroker.adapters.providers import SOURCES, build_source  # noqa: E402
from gpubroker.adapters.providers.http import HttpClient  # noqa: E402
from gpubroker.adapters.secrets import StaticCredentials  # noqa: E402
from gpubroker.domain.gpus import bundled_catalog  # noqa: E402
from gpubroker.domain.offers import RawOffer, RejectedRow, normalise  # noqa: E402
from tests.bench.common import add_quick, verdict  # noqa: E402
from tests.fixtures.providers.wire import Replay  # noqa: E402

TARGET_PER_S = 50_000
BASE = "http://replay.invalid"
AS_OF = datetime(2025, 6, 20, tzinfo=UTC)


@dataclass(frozen=True)
class ReplayHttp(HttpClient):
    """The adapters' HTTP client with the network replaced by the recorded answers (parsing only is timed)."""

    def request_json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> Any:
        path = url.removeprefix(BASE).split("?", 1)[0] or "/"
        query = dict(params or {})
        if "?" in url:
            query.update(dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&") if "=" in p))
        status, answer = Replay(BASE).answer(method, path, query, data or b"")
        assert status == 200, (method, path, status)
        return answer


def parse_round(creds: StaticCredentials) -> dict[str, list[RawOffer | RejectedRow]]:
    http = ReplayHttp()
    return {p: list(build_source(p, credentials=creds, base_url=BASE, http=http).rows()) for p in sorted(SOURCES)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--min-offers", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of normalise()")
    args = add_quick(parser).parse_args()
    if args.quick:
        args.min_offers = 1  # one round of every adapter
    creds = StaticCredentials(
        api_key="k", client_id="c", client_secret="s", aws_access_key_id="AKIDBENCH", aws_secret_access_key="bench"
    )
    specs = bundled_catalog().by_model()
    parse_round(creds)  # warm caches (fixture files, regexes, botocore imports)

    per_provider_raw: Counter[str] = Counter()
    per_provider_parse_s: dict[str, float] = dict.fromkeys(SOURCES, 0.0)
    raws: list[RawOffer] = []
    gc.disable()
    t0 = time.perf_counter()
    while len(raws) < args.min_offers:
        http = ReplayHttp()
        for provider in sorted(SOURCES):
            start = time.perf_counter()
            rows = list(build_source(provider, credentials=creds, base_url=BASE, http=http).rows())
            per_provider_parse_s[provider] += time.perf_counter() - start
            got = [r for r in rows if isinstance(r, RawOffer)]
            per_provider_raw[provider] += len(got)
            raws.extend(got)
    parse_s = time.perf_counter() - t0

    accepted: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    profiler = cProfile.Profile() if args.profile else None
    t1 = time.perf_counter()
    if profiler:
        profiler.enable()
    for raw in raws:
        try:
            normalise(raw, as_of=AS_OF, specs=specs)
            accepted[raw.provider] += 1
        except RejectedRow as rej:
            rejected[rej.reason] += 1
    if profiler:
        profiler.disable()
    norm_s = time.perf_counter() - t1
    gc.enable()

    n = len(raws)
    total_rate = n / (parse_s + norm_s)
    print(f"{'provider':<10} {'raw offers':>11} {'accepted':>9} {'parse/s':>12}")
    for provider in sorted(SOURCES):
        rate = per_provider_raw[provider] / per_provider_parse_s[provider]
        print(f"{provider:<10} {per_provider_raw[provider]:>11,} {accepted[provider]:>9,} {rate:>12,.0f}")
    print(f"{'-' * 46}")
    print(f"parse      {n:>11,} raw offers in {parse_s:6.2f} s  = {n / parse_s:>10,.0f} /s")
    print(f"normalise  {n:>11,} raw offers in {norm_s:6.2f} s  = {n / norm_s:>10,.0f} /s")
    print(f"together   {total_rate:>10,.0f} raw offers/s   (target >= {TARGET_PER_S:,}/s)")
    print(f"rejected by normalise: {dict(rejected)}")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        print(out.getvalue())
    ok = total_rate >= TARGET_PER_S
    result = {
        "bench": "normalise",
        "raw_offers": n,
        "accepted": sum(accepted.values()),
        "parse_per_s": round(n / parse_s),
        "normalise_per_s": round(n / norm_s),
        "parse_and_normalise_per_s": round(total_rate),
        "target_per_s": TARGET_PER_S,
        "quick": args.quick,
        "ok": ok,
    }
    print(json.dumps(result))
    if not accepted:  # nothing normalised: broken, whatever the speed
        return 1
    return verdict(ok, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
