"""Benchmark: booking on the local stack (issue 12, §7). Two figures.

1. ``POST /bookings`` warm, to the 202 (target p99 <= 100 ms): ``--requests`` requests (default 200), each with a
   new ``Idempotency-Key``, after an unmeasured warm-up. Peer in the same run: ``POST /interactions`` (another
   audited, signed-in write through the same front door: authorizer, rate limit, audit), the same number of
   requests. Also the replay (the same key and body again: Powertools Idempotency answers the stored 202). The
   three kinds are interleaved, their order rotated each round, so the sagas the bookings start in the background
   load every side alike: this is the route under its own sagas' load (each booking's saga runs ~6 Lambda
   invocations and ~25 moto calls on the same 2 CPUs).
1b. The same route at rest, which the target is judged on: each booking's saga settles (untimed) before the next
   request, then the peer's interaction is timed; half as many requests (at least 10).
2. The saga end to end: from the 202 to a settled status (confirmed, failed, cancelled, needs_attention) seen by
   polling ``GET /bookings/{id}`` every 20 ms (so +-20 ms), median and p95: the happy path (``--happy`` runs,
   default 15) and each compensation path through the stack's fault injection (``--runs`` each, default 5):
   validate fails, reserve fails (NoCapacity), charge fails (PaymentDeclined), confirm fails (refund + release),
   and confirm fails with the first compensation (refund) failing once. The ASL retries that compensation after
   ``IntervalSeconds`` 2 with full jitter (a wait of 0..2 s), which that row's times include; the other paths
   retry nothing (their injected errors are not transient).

The user is a fresh verified account; its first booking goes through Checkout (the local pay page, card
``pm_card_visa``), which saves the card for every booking after it. Starts its own stack (sandbox capacity
100000 per model) or uses a running one (``--state-file``, as the e2e quick run does). Every answer is checked:
a booking must be accepted and end as its case says. Prints a table with the load average and a final JSON line;
exits 0 when the target is met and every saga ended as expected, 1 otherwise.
Run: ``.venv/bin/python tests/bench/bench_bookings.py`` from the repository root.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT, ROOT / "layers" / "core", ROOT / "layers" / "math"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from infra.local.faults import clear_faults, set_fault  # noqa: E402
from infra.local.sigv4 import LocalCredentials  # noqa: E402
from tests.bench.common import BadAnswer, add_quick, assert_2xx, verdict  # noqa: E402
from tests.e2e.bookings_client import SETTLED, Booker, available_offer  # noqa: E402
from tests.e2e.conftest import request  # noqa: E402
from tests.e2e.stack_process import local_stack  # noqa: E402

TARGET_P99_MS = 100.0
REQUESTS, HAPPY, RUNS, WARM_UP = 200, 15, 5, 10
POLL_S = 0.02
SAGA_TIMEOUT_S = 90.0
F = "Booking{}Function".format


@dataclass(frozen=True)
class SagaPath:
    name: str
    faults: tuple[tuple[str, str, int], ...]  # (function, error, times)
    status: str


PATHS = (
    SagaPath("happy path", (), "confirmed"),
    SagaPath("validate fails", ((F("Validate"), "RuntimeError", 1),), "failed"),
    SagaPath("reserve fails", ((F("Reserve"), "NoCapacity", 1),), "failed"),
    SagaPath("charge fails", ((F("Charge"), "PaymentDeclined", 1),), "failed"),
    SagaPath("confirm fails: refund+release", ((F("Confirm"), "RuntimeError", 1),), "failed"),
    SagaPath("confirm fails, refund fails once", ((F("Confirm"), "RuntimeError", 1), (F("Refund"), "RuntimeError", 1)),
          "failed"),
)  # fmt: skip


def percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def timed(call: Callable[[], tuple[int, dict[str, Any]]], what: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    status, body = call()
    took = (time.perf_counter() - started) * 1000
    assert_2xx(status, body, what)
    return took, body


def checkout(booker: Booker, offer_id: str) -> None:
    """The first booking: the saga waits for Checkout; paying on the local pay page saves the card."""
    status, first = booker.book(offer_id, hours=1)
    assert_2xx(status, first, "POST /bookings (the first, through Checkout)")
    waiting = booker.wait(first["booking_id"], SETTLED | {"awaiting_payment"}, timeout_s=SAGA_TIMEOUT_S)
    if waiting["status"] != "awaiting_payment" or not waiting.get("checkout_url"):
        raise BadAnswer(f"the first booking should wait for Checkout: {waiting}")
    req = urllib.request.Request(waiting["checkout_url"], data=b"payment_method=pm_card_visa", method="POST",
                                 headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert_2xx(resp.status, "", "the Checkout pay page")
    done = booker.wait(first["booking_id"], timeout_s=SAGA_TIMEOUT_S)
    if done["status"] != "confirmed":
        raise BadAnswer(f"the Checkout booking ended {done['status']}: {done}")


def front_door(booker: Booker, offer_id: str, n: int) -> tuple[dict[str, list[float]], list[str]]:
    """Figure 1: new bookings, replays and the peer's interactions, interleaved; the booking ids made."""
    url, headers = booker.url, booker.headers
    keys: list[str] = []

    def new_booking() -> tuple[int, dict[str, Any]]:
        keys.append(uuid.uuid4().hex)
        return booker.book(offer_id, hours=1, key=keys[-1])

    def replay() -> tuple[int, dict[str, Any]]:
        return booker.book(offer_id, hours=1, key=keys[-1])  # the key and body of the last new booking

    def interaction() -> tuple[int, dict[str, Any]]:
        return request("POST", f"{url}/interactions", {"offer_id": offer_id, "kind": "view"}, headers=headers)[:2]

    kinds: dict[str, tuple[str, Callable[[], tuple[int, dict[str, Any]]]]] = {
        "booking": ("POST /bookings (new key)", new_booking),
        "replay": ("POST /bookings (replay)", replay),
        "interaction": ("POST /interactions (peer)", interaction),
    }
    times: dict[str, list[float]] = {k: [] for k in kinds}
    ids: list[str] = []
    order = ["booking", "interaction", "replay"]
    for i in range(WARM_UP + n):
        # rotate booking/interaction; the replay needs a booking made before it
        turn = order if i % 2 == 0 else ["interaction", "booking", "replay"]
        for kind in turn:
            what, call = kinds[kind]
            took, body = timed(call, what)
            if kind == "booking":
                ids.append(body["booking_id"])
            elif kind == "replay" and body["booking_id"] != ids[-1]:
                raise BadAnswer(f"a replay answered another booking: {body} (wanted {ids[-1]})")
            if i >= WARM_UP:
                times[kind].append(took)
    return times, ids


def paced(booker: Booker, offer_id: str, n: int) -> dict[str, list[float]]:
    """Figure 1b: each new booking's 202 timed on a stack at rest (the saga the one before started has settled,
    untimed), then the peer's interaction: the route's own latency, without the background load of figure 1."""
    times: dict[str, list[float]] = {"booking": [], "interaction": []}
    for i in range(WARM_UP + n):
        took, body = timed(lambda: booker.book(offer_id, hours=1), "POST /bookings (paced)")
        booker.wait(body["booking_id"], timeout_s=SAGA_TIMEOUT_S)
        peer, _ = timed(lambda: request("POST", f"{booker.url}/interactions", {"offer_id": offer_id, "kind": "view"},
                                        headers=booker.headers)[:2], "POST /interactions (paced)")  # fmt: skip
        if i >= WARM_UP:
            times["booking"].append(took)
            times["interaction"].append(peer)
    return times


def settle_all(booker: Booker, ids: list[str]) -> dict[str, int]:
    """Wait for figure 1's sagas (so they do not load figure 2); the statuses they ended in."""
    out: dict[str, int] = {}
    for booking_id in ids:
        status = booker.wait(booking_id, timeout_s=SAGA_TIMEOUT_S * 3)["status"]
        out[status] = out.get(status, 0) + 1
    return out


def saga_once(booker: Booker, offer_id: str, path: SagaPath, api: str, creds: LocalCredentials) -> tuple[float, str]:
    """Seconds from the 202 to the first poll that sees a settled status, and that status."""
    clear_faults(api, creds)
    for function, error, times in path.faults:
        set_fault(api, {"function": function, "error": error, "times": times,
                        "message": f"injected by bench_bookings ({path.name})"}, creds)  # fmt: skip
    try:
        status, answer = booker.book(offer_id, hours=1)
        accepted = time.perf_counter()
        assert_2xx(status, answer, f"POST /bookings ({path.name})")
        while True:
            status, body = booker.get(answer["booking_id"])
            assert_2xx(status, body, "GET /bookings/{id}")
            if body["status"] in SETTLED:
                return time.perf_counter() - accepted, body["status"]
            if time.perf_counter() - accepted > SAGA_TIMEOUT_S:
                raise BadAnswer(f"{path.name}: booking still {body['status']} after {SAGA_TIMEOUT_S} s: {body}")
            time.sleep(POLL_S)
    finally:
        clear_faults(api, creds)


def run(url: str, state_file: Path, n: int, happy: int, runs: int) -> dict[str, Any]:
    state = json.loads(state_file.read_text())
    creds = LocalCredentials.from_state(state)
    clear_faults(url, creds)
    booker = Booker.signed_in(url, state_file)
    offer = available_offer(url, booker.headers, min_price=0.5)
    checkout(booker, offer["offer_id"])
    load_before = os.getloadavg()[0]
    at_rest = paced(booker, offer["offer_id"], max(10, n // 2))
    times, ids = front_door(booker, offer["offer_id"], n)
    load_fig1 = os.getloadavg()[0]
    ended = settle_all(booker, ids)
    sagas: dict[str, list[float]] = {}
    wrong: list[str] = []
    for path in PATHS:
        sagas[path.name] = []
        for _ in range(happy if path.name == "happy path" else runs):
            took, status = saga_once(booker, offer["offer_id"], path, url, creds)
            sagas[path.name].append(took)
            if status != path.status:
                wrong.append(f"{path.name}: {status}")
    load = [round(load_before, 2), round(load_fig1, 2), round(os.getloadavg()[0], 2)]
    return {"offer_id": offer["offer_id"], "times": times, "paced": at_rest, "fig1_sagas_ended": ended,
            "sagas": sagas, "wrong": wrong, "load": load}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = add_quick(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--requests", type=int, default=REQUESTS, help="measured requests of each kind (figure 1)")
    parser.add_argument("--happy", type=int, default=HAPPY, help="happy-path sagas timed (figure 2)")
    parser.add_argument("--runs", type=int, default=RUNS, help="sagas timed per compensation path (figure 2)")
    parser.add_argument("--state-file", type=Path, help="use this running local stack instead of starting one")
    args = parser.parse_args(argv)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # the session helper's boto3 calls to moto
        os.environ.setdefault(key, "local")
    global WARM_UP
    n, happy, runs = (20, 3, 1) if args.quick else (args.requests, args.happy, args.runs)
    if args.quick:
        WARM_UP = 3
    if args.state_file:
        url = json.loads(args.state_file.read_text())["api"].rstrip("/")
        result = run(url, args.state_file, n, happy, runs)
    else:
        env = {"POWERTOOLS_LOG_LEVEL": "ERROR", "GPUBROKER_SANDBOX_CAPACITY": "*=100000"}
        with tempfile.TemporaryDirectory(prefix="bench-bookings-") as tmp, local_stack(Path(tmp), env=env) as up:
            result = run(up.url, up.state_file, n, happy, runs)

    load = result["load"]
    print(f"booking on the local stack: {os.cpu_count()} CPUs, load avg {load[0]:.2f} before, {load[1]:.2f} after "
          f"figure 1, {load[2]:.2f} at the end")  # fmt: skip
    print(f"figure 1: warm, to the answer, {n} requests each (after {WARM_UP} of each unmeasured), interleaved")
    print(f"  {'route':<30}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'x peer p50':>12}")
    peer = statistics.median(result["times"]["interaction"])
    fig1: dict[str, dict[str, float]] = {}
    for kind, label in (("booking", "POST /bookings (new key)"), ("replay", "POST /bookings (replay)"),
                        ("interaction", "peer: POST /interactions")):  # fmt: skip
        xs = result["times"][kind]
        fig1[kind] = {"p50_ms": round(statistics.median(xs), 1), "p99_ms": round(percentile(xs, 0.99), 1),
                      "max_ms": round(max(xs), 1)}  # fmt: skip
        print(f"  {label:<30}{fig1[kind]['p50_ms']:>9.1f}{fig1[kind]['p99_ms']:>9.1f}{fig1[kind]['max_ms']:>9.1f}"
              f"{fig1[kind]['p50_ms'] / peer:>12.2f}")  # fmt: skip
    print(f"  figure 1's bookings ended: {result['fig1_sagas_ended']}")
    rest = result["paced"]
    print(f"figure 1b: warm, to the answer, at rest (each saga settled before the next request), {len(rest['booking'])}"
          " requests each")  # fmt: skip
    rest_peer = statistics.median(rest["interaction"])
    fig1b: dict[str, dict[str, float]] = {}
    for kind, label in (("booking", "POST /bookings (new key)"), ("interaction", "peer: POST /interactions")):
        xs = rest[kind]
        fig1b[kind] = {"p50_ms": round(statistics.median(xs), 1), "p99_ms": round(percentile(xs, 0.99), 1),
                       "max_ms": round(max(xs), 1)}  # fmt: skip
        print(f"  {label:<30}{fig1b[kind]['p50_ms']:>9.1f}{fig1b[kind]['p99_ms']:>9.1f}{fig1b[kind]['max_ms']:>9.1f}"
              f"{fig1b[kind]['p50_ms'] / rest_peer:>12.2f}")  # fmt: skip
    print(f"figure 2: saga, 202 to a settled status (polled every {POLL_S * 1000:.0f} ms)")
    print(f"  {'path':<34}{'runs':>5}{'median s':>10}{'p95 s':>8}{'max s':>8}")
    fig2: dict[str, dict[str, float]] = {}
    for name, xs in result["sagas"].items():
        fig2[name] = {"runs": len(xs), "median_s": round(statistics.median(xs), 2),
                      "p95_s": round(percentile(xs, 0.95), 2), "max_s": round(max(xs), 2)}  # fmt: skip
        print(f"  {name:<34}{len(xs):>5}{fig2[name]['median_s']:>10.2f}{fig2[name]['p95_s']:>8.2f}"
              f"{fig2[name]['max_s']:>8.2f}")  # fmt: skip
    print("  (the refund-fails-once row includes the ASL's retry wait: IntervalSeconds 2, full jitter)")
    for w in result["wrong"]:
        print(f"  WRONG END: {w}")
    confirmed_all = set(result["fig1_sagas_ended"]) == {"confirmed"}
    met = fig1b["booking"]["p99_ms"] <= TARGET_P99_MS
    print(f"target: POST /bookings p99 <= {TARGET_P99_MS:.0f} ms (at rest, figure 1b): "
          f"{fig1b['booking']['p99_ms']:.1f} ms -> {'PASS' if met else 'FAIL'}; under its own sagas' load (figure 1):"
          f" {fig1['booking']['p99_ms']:.1f} ms")  # fmt: skip
    print(json.dumps({"bench": "bookings", "requests": n, "post_bookings": fig1["booking"], "replay": fig1["replay"],
                      "peer_post_interactions": fig1["interaction"], "at_rest": fig1b, "sagas": fig2,
                      "fig1_sagas_ended": result["fig1_sagas_ended"], "wrong": result["wrong"],
                      "load_avg": load, "target_p99_ms": TARGET_P99_MS, "met": met, "quick": args.quick}))  # fmt: skip
    if result["wrong"] or not confirmed_all:  # a wrong end fails a quick run too
        return 1
    return verdict(met, quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
