"""The whole application over real HTTP: the local stack (or GPUBROKER_API_URL), seeded with the real catalogs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from infra.local.template import ROOT
from tests.conftest import CATALOGS
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]


def test_ready_and_seeded(stack: Stack) -> None:
    """Seeded from every catalog. How fast it gets ready is a figure, not a pass/fail condition here (a loaded CI
    machine is slower for reasons that are not the code's): tests/bench/bench_local_stack.py measures it."""
    status, providers = stack.get(f"{stack.url}/providers")
    counts = {p["name"]: p["offers"] for p in providers["items"]}
    assert status == 200
    # issue 10: a row whose board the catalog does not state (Lambda's and Verda's V100: SXM2 or PCIe; Shadeform's
    # H100/A100/H200 of hosts that do not say; Verda's RTX PRO 6000: which edition) is a board-unstated model
    # (V100-16GB-Any ...), counted apart in the run report, never one board guessed. Paperspace's v6 rows "H100" and
    # "V100" state no memory either (H100 NVL is 94 GB; V100 16 or 32 GB): no board-unstated model, reported.
    assert {k: v for k, v in counts.items() if v} == {
        "fluidstack": 13,
        "lambda": 340,
        "paperspace": 11,
        "runpod": 480,
        "shadeform": 259,
        "vast": 63,
        "verda": 45,
    }


def test_search_walk_over_http(stack: Stack) -> None:
    url = f"{stack.url}/offers?gpu=H100-SXM&max_price_per_gpu_hour=4&sort=price&limit=7"
    status, page = stack.get(url)
    assert status == 200 and page["count"] > 7
    seen: list[str] = []
    prices: list[float] = []
    while True:
        seen += [o["offer_id"] for o in page["items"]]
        prices += [o["price_per_hour"] for o in page["items"]]
        if not page["next_cursor"]:
            break
        status, page = stack.get(f"{url}&cursor={page['next_cursor']}")
        assert status == 200
    assert len(seen) == len(set(seen)) == page["count"]
    assert prices == sorted(prices)
    status, one = stack.get(f"{stack.url}/offers/{seen[0]}")
    assert status == 200 and one["gpu_model"] == "H100-SXM"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/offers?limit=1000", 422, "validation_error"),
        ("/offers?cursor=%%%", 400, "invalid_cursor"),
        ("/offers?color=red", 400, "unknown_parameter"),
        ("/offers/runpod-ffffffffffffffff", 404, "offer_not_found"),
        ("/gpus/TPUv4", 404, "gpu_not_found"),
        ("/nope", 404, "route_not_found"),
    ],
)
def test_errors_over_http(stack: Stack, path: str, status: int, code: str) -> None:
    got, body = stack.get(f"{stack.url}{path}")
    assert (got, body["error"]["code"]) == (status, code)


def test_openapi_describes_every_route(stack: Stack) -> None:
    """Served by the function GET /openapi.json routes to (its front door's headers on the answer), generated at the
    stack's start: every route of the template, GET /openapi.json included."""
    from infra.local.template import read_app
    from tests.e2e.conftest import request

    status, doc, headers = request("GET", f"{stack.url}/openapi.json")
    assert status == 200 and "RateLimit-Policy" in headers
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == {(r.method, r.path) for r in read_app().routes}
    assert ("GET", "/openapi.json") in documented


def make_ingest(stack: Stack, catalog: Path, provider: str) -> subprocess.CompletedProcess[str]:
    """What `make ingest CATALOG=... PROVIDER=...` runs."""
    cmd = [sys.executable, "-m", "infra.local.ingest", "--catalog", str(catalog), "--provider", provider]
    cmd += ["--state-file", str(stack.state_file)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_make_ingest_loads_one_more_catalog(stack: Stack, tmp_path: Path) -> None:
    if os.environ.get("GPUBROKER_API_URL"):
        pytest.skip("needs the local stack's invoke API")
    catalog = tmp_path / "vms.csv"
    rows = (CATALOGS / "vast" / "vms.csv").read_text().splitlines()
    catalog.write_text("\n".join(rows[:11]) + "\n")
    out = make_ingest(stack, catalog, "vast")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    expected = {"provider": "vast", "status": "ok", "accepted": 10, "rejected": {}, "unknown_gpus": [],
                "variant_unstated": {}}  # fmt: skip
    assert {k: report[k] for k in expected} == expected
    assert report["searchable_snapshot"] >= report["snapshot_version"]
    _, providers = stack.get(f"{stack.url}/providers")
    vast = next(p for p in providers["items"] if p["name"] == "vast")
    assert (vast["offers"], vast["available_offers"]) == (63, 10)  # Vast's "Tesla V100" is V100-16GB-Any
    # a bad event is refused by the function and reported as a failure, nothing written
    bad = make_ingest(stack, catalog, "no pe")  # a malformed name (a well-formed new one is a catalog-only provider)
    assert bad.returncode == 1 and "ValidationFailed" in bad.stderr
    # make ingest signs with the run's credentials (the state file, its owner's only): without them, or from a
    # web page, the Invoke API runs nothing (issue 11: it ran ApiVerifyAuditFunction for anyone)
    assert stack.state_file.stat().st_mode & 0o777 == 0o600
    for content_type in ("application/json", "text/plain"):
        req = urllib.request.Request(f"{stack.url}/2015-03-31/functions/ApiVerifyAuditFunction/invocations",
                                     data=b"{}", method="POST", headers={"Content-Type": content_type})  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=10)
        assert refused.value.code == 403


def test_unrouted_method_is_405_with_allow(stack: Stack) -> None:
    req = urllib.request.Request(f"{stack.url}/offers", method="DELETE")
    try:
        urllib.request.urlopen(req, timeout=10)
    except urllib.error.HTTPError as err:
        assert err.code == 405 and err.headers["Allow"] == "GET"
    else:
        raise AssertionError("DELETE /offers must be refused")


def test_math_over_http(stack: Stack) -> None:
    status, plan = stack.post(
        f"{stack.url}/math/map-workload-to-gpu",
        {"type": "llm_inference", "params_b": 70, "precision": "fp16", "concurrency": 8},
    )
    assert status == 200 and plan["plans"] and plan["plans"][0]["offer_id"]
    status, rec = stack.post(f"{stack.url}/math/ensemble-recommend", {"limit": 3})
    assert status == 200 and rec["path"] == "cold_start" and len(rec["items"]) == 3
    status, preset = stack.get(f"{stack.url}/presets/best-value?limit=3")
    assert status == 200 and len(preset["items"]) == 3 and 0 <= preset["top_offer"]["confidence"] <= 1
    status, err = stack.post(
        f"{stack.url}/math/ensemble-recommend", {"weights": {"topsis": 1, "collaborative": 1, "content": 0}}
    )
    assert status == 422 and err["error"]["code"] == "validation_error"


def test_market_data_over_http(stack: Stack) -> None:
    # the first summary reads every GPU model's history (one Query each; ~10 s against moto, cached after)
    status, summary = stack.get(f"{stack.url}/market/summary", timeout=90)
    assert status == 200 and summary["live_offers"] > 1000 and len(summary["active_providers"]) == 7
    h100 = summary["trend_7d"]["H100-SXM"]  # seeded from the real public series (Prime Intellect, AWS, RunPod)
    assert len(h100["days"]) >= 2 and h100["direction"] in {"up", "down", "flat"}
    _, page = stack.get(f"{stack.url}/offers?gpu=H100-SXM&limit=1")
    offer_id = page["items"][0]["offer_id"]
    status, history = stack.get(f"{stack.url}/offers/{offer_id}/history")
    assert status == 200 and history["points"] and history["points"][0]["price_per_gpu_hour"] > 0
