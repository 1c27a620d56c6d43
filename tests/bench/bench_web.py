"""Issue 15 §4's web performance bars, on the local stack (``python -m infra.local`` serving ``web/dist`` at /app/):

1. **First contentful paint <= 1,000 ms** on every page (dashboard, offers, offer detail, planner, compare, account,
   bookings), read in the browser through the Performance API (``first-contentful-paint`` paint entry). Debian's
   ``/usr/bin/chromium`` driven by Playwright (``--no-sandbox --disable-background-networking``), headless,
   1280x800. Each page is loaded ``--runs`` times, each in a fresh browser context (an empty HTTP cache: a first
   visit), then once warm (a second load in a context that loaded it once: hashed assets come from the cache,
   ``index.html`` is revalidated). Median and p95 (nearest rank) of the cold loads; the target is the cold p95.
   Also shown, without a target: "content", the time from navigation start until the page's data is on screen
   (the selector the browser tests wait for), which is what a visitor waits for after the first paint.
   **Peer in the same run:** a minimal static HTML page (a heading and a paragraph, no script, no stylesheet)
   served by the same local stack from the same origin and the same code path as the app's files (written into
   ``web/dist`` as ``bench-peer-<random>.html`` for the run and removed after it; never part of the build). It is
   the floor: what the browser and the local server take to paint anything at all, so "app - peer" is the app's
   own cost (its JavaScript, its first render).
2. **Initial route JavaScript <= 200 kB gzipped**, from ``web/dist``: the module script and every
   ``modulepreload`` link of ``index.html`` (what the browser fetches before it can run the app), gzipped (level
   9, as ``web/scripts/size.mjs``); and the Dashboard route's closure from Vite's manifest (the entry, the lazy
   Dashboard chunk and every chunk they import statically: what the first route needs before it draws its data),
   the figure ``npm run build`` checks. Both must be within the budget. Every page's closure is printed too
   (no target: the budget is the initial route's).

Every response the pages get is checked: one at 400 or above stops the run (a benchmark times successes only), as
does a console error. Anonymous visitor: account and bookings show their sign-in state. The loads are paced (the
free plan's 10 requests a second per address). ``--state-file`` measures a running seeded stack instead of starting
one. Run: ``.venv/bin/python tests/bench/bench_web.py`` from the repository root (``make bench-web`` builds the app
first). Prints a table and a final JSON line; exits 0 when the targets are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT, ROOT / "layers" / "core", ROOT / "layers" / "math"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from tests.bench.common import BadAnswer, add_quick, verdict  # noqa: E402

CHROMIUM = Path(os.environ.get("GPUBROKER_CHROMIUM", "/usr/bin/chromium"))
DIST = ROOT / "web" / "dist"
TARGET_FCP_MS = 1_000.0
TARGET_JS_KB = 200.0
VIEWPORT = {"width": 1280, "height": 800}
PACE_S = 0.6  # between loads: the anonymous plan's 10 requests a second per address
PEER_HTML = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>GPUBroker peer</title>'
    '<link rel="icon" href="data:,"></head>'
    "<body><h1>GPUBroker</h1><p>A static page: the floor of a first contentful paint on this stack.</p></body></html>"
)
FCP_JS = """() => new Promise((resolve) => {
  const hit = () => performance.getEntriesByName('first-contentful-paint')[0];
  if (hit()) return resolve(hit().startTime);
  new PerformanceObserver((list, obs) => {
    const e = list.getEntriesByName('first-contentful-paint')[0];
    if (e) { obs.disconnect(); resolve(e.startTime); }
  }).observe({type: 'paint', buffered: true});
  setTimeout(() => resolve(-1), 15000);
})"""


# ------------------------------------------------------------------------------------------- initial route JS


def _gz_kb(path: Path) -> float:
    return len(gzip.compress(path.read_bytes(), compresslevel=9)) / 1000


def index_js(dist: Path) -> tuple[float, list[str]]:
    """kB gzipped of index.html's module scripts and modulepreload links (the files, relative to dist)."""
    html = (dist / "index.html").read_text()
    tags = re.findall(r"<script\b[^>]*\btype=\"module\"[^>]*>|<link\b[^>]*\brel=\"modulepreload\"[^>]*>", html)
    files = []
    for tag in tags:
        ref = re.search(r"\b(?:src|href)=\"([^\"]+)\"", tag)
        if ref:
            files.append(ref.group(1).removeprefix("/app/"))
    if not files:
        raise BadAnswer(f"{dist / 'index.html'} names no module script")
    return sum(_gz_kb(dist / f) for f in files), files


def route_js(dist: Path) -> dict[str, float]:
    """kB gzipped of each page's closure in Vite's manifest (as web/scripts/size.mjs computes it)."""
    manifest: dict[str, dict[str, Any]] = json.loads((dist / ".vite" / "manifest.json").read_text())

    def closure(keys: list[str], seen: set[str]) -> set[str]:
        for key in keys:
            if key not in seen:
                seen.add(key)
                closure(list(manifest[key].get("imports", [])), seen)
        return seen

    return {
        Path(key).stem: sum(_gz_kb(dist / manifest[k]["file"]) for k in closure(["index.html", key], set()))
        for key in sorted(manifest)
        if key.startswith("src/pages/")
    }


# ---------------------------------------------------------------------------------------------- page loads


@dataclass
class Row:
    name: str
    path: str
    ready: str | None  # the selector that shows the page's data (None: the peer)
    cold_fcp: list[float] = field(default_factory=list)
    cold_content: list[float] = field(default_factory=list)
    warm_fcp: float | None = None
    warm_content: float | None = None


def nearest_rank(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def pages(url: str) -> list[Row]:
    import urllib.request

    with urllib.request.urlopen(f"{url}/offers?gpu=H100&limit=2", timeout=30) as resp:
        ids = [o["offer_id"] for o in json.load(resp)["items"]]
    if len(ids) < 2:
        raise BadAnswer("the stack has fewer than 2 H100 offers: is it seeded?")
    return [
        Row("dashboard", "/app/", "text=Best Value"),
        Row("offers", "/app/offers", "table[aria-label=Offers] tbody tr"),
        Row("offer detail", f"/app/offers/{ids[0]}", "[data-testid=kpi-efficiency] [data-kpi]"),
        Row("planner", "/app/planner", "text=Describe your workload"),
        Row("compare", f"/app/compare?id={ids[0]}&id={ids[1]}", "[data-testid=compare-score] >> text=#"),
        Row("account", "/app/account", "h1"),
        Row("bookings", "/app/bookings", "h1"),
    ]


@contextmanager
def peer_page() -> Iterator[str]:
    """The static peer in web/dist for the run (the stack serves web/dist under /app/), removed after it."""
    name = f"bench-peer-{secrets.token_hex(4)}.html"
    path = DIST / name
    path.write_text(PEER_HTML)
    try:
        yield f"/app/{name}"
    finally:
        path.unlink(missing_ok=True)


def load(context: Any, url: str, ready: str | None) -> tuple[float, float]:
    """(FCP ms, content ms) of one navigation in ``context``; raises BadAnswer on a response >= 400 or a console
    error."""
    page = context.new_page()
    problems: list[str] = []
    page.on("response", lambda r: problems.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else 0)
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else 0)
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
    try:
        page.goto(url, wait_until="commit", timeout=60_000)
        if ready is not None:
            page.locator(ready).first.wait_for(timeout=60_000)
            content = float(page.evaluate("() => performance.now()"))
        fcp = float(page.evaluate(FCP_JS))
        if ready is None:
            content = fcp
        page.wait_for_load_state("networkidle", timeout=60_000)
    finally:
        page.close()
    if problems:
        raise BadAnswer(f"{url}: {problems[:5]}")
    if fcp < 0:
        raise BadAnswer(f"{url}: no first-contentful-paint entry within 15 s")
    return fcp, content


def measure(url: str, rows: list[Row], runs: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-background-networking"]
        )
        try:
            warmup = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
            for row in rows:  # every function and page once, unmeasured: no cold Lambda start in the figures
                load(warmup, url + row.path, row.ready)
                time.sleep(PACE_S)
            warmup.close()
            for _ in range(runs):  # rounds over the pages: a slow moment of the machine hits all pages alike
                for row in rows:
                    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
                    fcp, content = load(context, url + row.path, row.ready)
                    context.close()
                    row.cold_fcp.append(fcp)
                    row.cold_content.append(content)
                    time.sleep(PACE_S)
            for row in rows:
                context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
                load(context, url + row.path, row.ready)
                time.sleep(PACE_S)
                row.warm_fcp, row.warm_content = load(context, url + row.path, row.ready)
                context.close()
                time.sleep(PACE_S)
        finally:
            browser.close()


# ------------------------------------------------------------------------------------------------------ the run


def run(url: str, runs: int) -> list[Row]:
    with peer_page() as peer:
        rows = [Row("peer: static HTML", peer, None), *pages(url)]
        measure(url, rows, runs)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = add_quick(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--state-file", type=Path, help="measure this running seeded stack (its state file)")
    parser.add_argument("--runs", type=int, default=10, help="cold loads of each page")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    if not (DIST / "index.html").exists():
        raise SystemExit("the web app is not built: make web")
    load_avg = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load avg {load_avg[0]:.2f}; {CHROMIUM} headless {VIEWPORT['width']}x"
          f"{VIEWPORT['height']}; {runs} cold loads per page (fresh context each) + 1 warm")  # fmt: skip
    if args.state_file:
        rows = run(json.loads(args.state_file.read_text())["api"], runs)
    else:
        from tests.e2e.stack_process import local_stack

        with tempfile.TemporaryDirectory() as tmp, local_stack(Path(tmp)) as up:
            rows = run(up.url, runs)

    peer = rows[0]
    peer_median = statistics.median(peer.cold_fcp)
    figures: dict[str, dict[str, float]] = {}
    verdicts: dict[str, bool] = {}
    print(f"\n{'page':<20}{'FCP cold p50':>13}{'p95':>8}{'- peer p50':>11}{'warm':>8}{'content p50':>13}"
          f"{'p95':>8}{'warm':>8}  target FCP p95 <= {TARGET_FCP_MS:.0f} ms")  # fmt: skip
    for row in rows:
        f = {
            "fcp_p50_ms": round(statistics.median(row.cold_fcp), 1),
            "fcp_p95_ms": round(nearest_rank(row.cold_fcp, 0.95), 1),
            "fcp_warm_ms": round(row.warm_fcp or -1, 1),
            "content_p50_ms": round(statistics.median(row.cold_content), 1),
            "content_p95_ms": round(nearest_rank(row.cold_content, 0.95), 1),
            "content_warm_ms": round(row.warm_content or -1, 1),
            "n": len(row.cold_fcp),
        }
        figures[row.name] = f
        target = "(peer)"
        if row is not peer:
            verdicts[f"fcp {row.name}"] = f["fcp_p95_ms"] <= TARGET_FCP_MS
            target = "PASS" if verdicts[f"fcp {row.name}"] else "FAIL"
        print(f"{row.name:<20}{f['fcp_p50_ms']:>13.0f}{f['fcp_p95_ms']:>8.0f}{f['fcp_p50_ms'] - peer_median:>+11.0f}"
              f"{f['fcp_warm_ms']:>8.0f}{f['content_p50_ms']:>13.0f}{f['content_p95_ms']:>8.0f}"
              f"{f['content_warm_ms']:>8.0f}  {target}")  # fmt: skip

    initial_kb, files = index_js(DIST)
    routes = route_js(DIST)
    dashboard_kb = routes["Dashboard"]
    verdicts["initial route JS (index.html scripts)"] = initial_kb <= TARGET_JS_KB
    verdicts["initial route JS (Dashboard closure)"] = dashboard_kb <= TARGET_JS_KB
    print(f"\ninitial route JS, gzipped (target <= {TARGET_JS_KB:.0f} kB):")
    print(f"  index.html module script + modulepreload ({', '.join(files)}): {initial_kb:.1f} kB "
          f"{'PASS' if initial_kb <= TARGET_JS_KB else 'FAIL'}")  # fmt: skip
    print(f"  Dashboard route closure (entry + lazy page chunk + static imports): {dashboard_kb:.1f} kB "
          f"{'PASS' if dashboard_kb <= TARGET_JS_KB else 'FAIL'}")  # fmt: skip
    print(
        "  every page's closure (no target; a page opened first downloads this): "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(routes.items(), key=lambda kv: -kv[1]))
    )
    ok = all(verdicts.values())
    print(f"targets: FCP p95 <= {TARGET_FCP_MS:.0f} ms on every page, initial route JS <= {TARGET_JS_KB:.0f} kB gz "
          f"-> {'PASS' if ok else 'FAIL'}")  # fmt: skip
    print(json.dumps({"bench": "web", "runs": runs, "figures": figures, "peer": peer.name,
                      "initial_js_kb": round(initial_kb, 1), "dashboard_route_js_kb": round(dashboard_kb, 1),
                      "route_js_kb": {k: round(v, 1) for k, v in routes.items()}, "verdicts": verdicts,
                      "load_avg": round(load_avg[0], 2), "quick": args.quick, "pass": ok}))  # fmt: skip
    return verdict(ok, quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
