"""No user enumeration through timing: a login with an unknown email costs what a wrong password costs.

``services.auth.login`` verifies the password against a dummy argon2id hash (the hasher's own production
parameters: t=3, m=64 MiB, p=4) when the account does not exist. This bench times, interleaved in random order,
``login`` with an unknown email and with a known email and a wrong password, through the real service and the real
Argon2 hasher (in-memory account store and throttle; the throttle window is advanced between attempts so it never
answers 429). The peer is the naive login that returns "invalid" at once when the email is unknown (the same code
minus the dummy verification), timed in the same run.

Signal = the accuracy of the best single threshold that tells "unknown" from "wrong password" by time, chosen on
the samples themselves (so it is biased upward: ~0.55-0.58 for identical distributions of 200 samples each).
Targets: ours <= 0.65 and |difference of medians| <= 10 % of the wrong-password median; the peer is printed for
comparison (expected ~1.00). Prints a table and one JSON line; exits 0 when the targets hold.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "layers/core"), str(ROOT / "layers/math")]

from gpubroker.adapters.passwords import Argon2Hasher  # noqa: E402
from gpubroker.domain.errors import InvalidCredentials  # noqa: E402
from gpubroker.services import auth  # noqa: E402
from tests.bench.common import add_quick, verdict  # noqa: E402
from tests.fakes_auth import auth_world  # noqa: E402

SAMPLES = int(os.environ.get("BENCH_LOGIN_SAMPLES", "200"))
TARGET_ACCURACY = 0.65
TARGET_MEDIAN_DIFF = 0.10
EMAIL, PASSWORD = "ada@example.com", "correct horse battery staple"


def best_threshold_accuracy(a: list[float], b: list[float]) -> float:
    """The best accuracy of "time <= t means a" (or the reverse) over every cut t: 0.5 = no signal, 1.0 = certain."""
    labelled = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    n_a, n_b = len(a), len(b)
    seen_a = seen_b = 0
    best = 0.5
    for _, label in labelled:
        seen_a += label == 0
        seen_b += label == 1
        # below the cut: a; above: b (and the mirror rule)
        acc = (seen_a + (n_b - seen_b)) / (n_a + n_b)
        best = max(best, acc, 1 - acc)
    return best


def naive_login(deps: auth.AuthDeps) -> Callable[[str, str], None]:
    """The peer: the same login without the dummy verification (an unknown email answers at once)."""

    def login(email: str, password: str) -> None:
        user = deps.users.by_email(auth.normalise_email(email))
        if user is None or not deps.hasher.verify(user.password_hash, password):
            raise InvalidCredentials("invalid email or password")

    return login


def measure(
    login: Callable[[str, str], None], advance: Callable[[], None], samples: int = SAMPLES
) -> tuple[list[float], list[float]]:
    unknown: list[float] = []
    wrong: list[float] = []
    order = ["unknown"] * samples + ["wrong"] * samples
    random.Random(7).shuffle(order)
    for i, kind in enumerate(order):
        advance()
        email = f"nobody{i}@example.com" if kind == "unknown" else EMAIL
        started = time.perf_counter()
        try:
            login(email, "not the password")
        except InvalidCredentials:
            pass
        else:
            raise AssertionError("a wrong password was accepted")
        (unknown if kind == "unknown" else wrong).append((time.perf_counter() - started) * 1000)
    return unknown, wrong


def row(name: str, unknown: list[float], wrong: list[float]) -> dict[str, float]:
    mu, mw = statistics.median(unknown), statistics.median(wrong)
    out = {
        "unknown_median_ms": round(mu, 2),
        "wrong_median_ms": round(mw, 2),
        "median_diff": round(abs(mu - mw) / mw, 4),
        "threshold_accuracy": round(best_threshold_accuracy(unknown, wrong), 3),
    }
    print(f"{name:<34} {mu:>10.2f} {mw:>10.2f} {out['median_diff'] * 100:>9.1f}% {out['threshold_accuracy']:>9.3f}")
    return out


def main(argv: list[str] | None = None) -> int:
    quick = add_quick(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args(argv).quick
    samples = 2 if quick else SAMPLES
    deps, clock = auth_world()
    deps.hasher = Argon2Hasher()  # production parameters
    auth.register(EMAIL, PASSWORD, deps=deps)

    def advance() -> None:  # past both login throttle windows: every attempt reaches the password check
        clock.advance(max(auth.LOGIN_PER_ACCOUNT[1], auth.LOGIN_PER_IP[1]) + 1)

    def ours(email: str, password: str) -> None:
        auth.login(email, password, ip="198.51.100.7", deps=deps)

    auth.login(EMAIL, PASSWORD, ip="198.51.100.7", deps=deps)  # warm up (imports, the dummy hash's parameters)
    print(f"{samples} logins of each kind, interleaved at random; argon2id t=3, m=64 MiB, p=4; {os.cpu_count()} CPUs")
    print(f"{'login':<34} {'unknown ms':>10} {'wrong ms':>10} {'Δmedian':>10} {'accuracy':>9}")
    result = {
        "ours": row("ours (dummy-hash verification)", *measure(ours, advance, samples)),
        "peer": row("peer (early return when unknown)", *measure(naive_login(deps), advance, samples)),
    }
    ok = (result["ours"]["threshold_accuracy"] <= TARGET_ACCURACY
          and result["ours"]["median_diff"] <= TARGET_MEDIAN_DIFF)  # fmt: skip
    print(
        f"targets: accuracy <= {TARGET_ACCURACY}, median difference <= {TARGET_MEDIAN_DIFF:.0%} -> "
        f"{'PASS' if ok else 'FAIL'}"
    )
    print(json.dumps({"bench": "login_timing", "samples": samples, **result, "quick": quick, "pass": ok}))
    return verdict(ok, quick=quick)


if __name__ == "__main__":
    sys.exit(main())
