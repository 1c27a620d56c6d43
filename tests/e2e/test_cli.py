"""The `gpubroker` command and the Python client against the local stack (issue 17): every command run as a real
subprocess (the console script the client package installs), with good and bad input, its exit code and its one
line of error; login with a TOTP code; book, list and cancel an offer through the sandbox provider; a refresh with
the fingerprint cookie when the access token is no longer accepted."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from gpubroker_client import AsyncClient, Client, FileTokenStore
from gpubroker_client.stream import Snapshot, Subscribed

from infra.local.stack import free_port
from tests.e2e.conftest import Stack, account, request
from tests.e2e.test_bookings import pay_checkout

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

GPUBROKER = Path(sys.executable).with_name("gpubroker")
PASSWORD = "correct horse battery staple"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self
        return json.loads(self.out)


@dataclass
class Cli:
    stack: Stack
    home: Path

    def __call__(self, *args: str, stdin: str | None = None, **env: str) -> Run:
        environ = {
            **os.environ,
            "GPUBROKER_API": self.stack.url,
            "XDG_CONFIG_HOME": str(self.home),
            "COLUMNS": "160",
            **({"GPUBROKER_WS": self.stack.ws_url} if self.stack.ws_url else {}),
            **env,
        }
        done = subprocess.run(
            [str(GPUBROKER), *args], input=stdin or "", capture_output=True, text=True, env=environ, timeout=120
        )
        return Run(done.returncode, done.stdout, done.stderr)

    @property
    def sessions(self) -> Path:
        return self.home / "gpubroker" / "sessions.json"


@pytest.fixture
def cli(stack: Stack, tmp_path: Path) -> Cli:
    return Cli(stack, tmp_path / "config")


def one_error_line(run: Run, code: int, *needles: str) -> None:
    """A refusal: the exit code, one line on standard error saying why, nothing on standard output, no traceback."""
    assert run.code == code, run
    assert run.out == "" and "Traceback" not in run.err, run
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run
    for needle in needles:
        assert needle in lines[0], (needle, run)


def test_offers_takes_every_filter_and_a_query_expression(cli: Cli) -> None:
    page = cli("offers", "gpu=H100 count>=2 price_per_gpu_hour<3", "--region", "eu", "--limit", "50", "-o", "json")
    answer = page.json()
    assert answer["items"] and answer["interpreted"]["gpu"]["H100"]
    with Client(cli.stack.url) as api:  # the same filters, named as the API names them
        same = api.offers(gpu=["H100"], min_gpu_count=2, max_price_per_gpu_hour=3, region=["eu"], limit=50)
    assert [o["offer_id"] for o in answer["items"]] == [o.offer_id for o in same.items] and same.count == answer[
        "count"
    ]
    for o in answer["items"]:
        assert o["gpu_model"].startswith("H100") and o["gpu_count"] >= 2 and o["price_per_gpu_hour"] <= 3, o

    every = cli("offers", "--gpu", "A6000", "--sort", "price", "--all", "--limit", "7", "-o", "csv")
    lines = every.out.splitlines()
    assert every.code == 0 and lines[0].startswith("offer_id,provider,gpu_model,gpus"), every
    with Client(cli.stack.url) as api:
        all_a6000 = list(api.iter_offers(gpu=["A6000"], sort="price", limit=100))
    assert len(all_a6000) > 7 and [line.split(",")[0] for line in lines[1:]] == [o.offer_id for o in all_a6000]

    table = cli("offers", "gpu=A6000", "--sort", "price", "--limit", "3")
    assert table.code == 0 and "\x1b[" not in table.out, table  # not a terminal: no colours
    assert all(o.offer_id in table.out for o in all_a6000[:3]) and f"3 of {len(all_a6000)} offers" in table.out


def test_the_catalog_and_the_market(cli: Cli) -> None:
    with Client(cli.stack.url) as api:
        models = [g.model for g in api.gpus().items]
        live = api.market_summary().live_offers
    gpus = cli("gpus")
    assert gpus.code == 0 and all(model in gpus.out for model in models) and f"{len(models)} GPU models" in gpus.out
    one = cli("gpu", "A6000", "-o", "json").json()
    assert one["model"] == "RTX-A6000" and one["sources"]
    market = cli("market")
    assert market.code == 0 and f"{live} live offers" in market.out and "H100-SXM" in market.out, market


def test_plan_and_recommend(cli: Cli) -> None:
    answer = cli("plan", "serve Llama 3 70B for 8 users in the EU", "-o", "json").json()
    assert answer["parse"]["workload"]["type"] == "llm_inference" and answer["mapping"]["plans"]
    assert all(p["feasible"] for p in answer["mapping"]["plans"])
    one_error_line(cli("plan", "hello there"), 2, "does not say enough")

    best = cli("recommend", "--preset", "best-value", "--limit", "3", "-o", "json").json()
    assert best["name"] == "best-value" and 0 < len(best["items"]) <= 3


def test_bad_input_exits_2_with_one_clear_line(cli: Cli) -> None:
    one_error_line(cli("gpu", "H900"), 2, "gpu_not_found", "'H900'", "gpubroker gpus")
    one_error_line(cli("offers", "gpux=1"), 2, "unknown field 'gpux'")
    one_error_line(cli("offers", "--min-gpu-count", "0"), 2, "validation_error", "min_gpu_count")
    one_error_line(cli("recommend", "--preset", "nope"), 2, "validation_error", "best-value")
    usage = cli("book", "some-offer", "--hours", "0")
    assert usage.code == 2 and "--hours" in usage.err and "Traceback" not in usage.err


def test_an_unreachable_api_is_one_line_and_exit_3(cli: Cli) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    one_error_line(cli("--api", nowhere, "gpus"), 3, f"cannot reach the GPUBroker API at {nowhere}")
    one_error_line(cli("watch", "--duration", "1", GPUBROKER_WS=f"ws://127.0.0.1:{free_port()}"), 3, "cannot reach")


def test_watch_streams_the_live_prices(cli: Cli) -> None:
    if not cli.stack.ws_url:
        pytest.skip("no WebSocket URL (set GPUBROKER_WS_URL)")
    run = cli("watch", "--gpu", "H100-SXM", "--duration", "2", "-o", "json")
    messages = [json.loads(line) for line in run.out.splitlines()]
    assert run.code == 0 and messages[0] == {
        "type": "subscribed",
        "filters": {"gpu": ["H100-SXM"]},
        "seq": messages[0]["seq"],
    }, run
    snapshot = [o for m in messages if m["type"] == "snapshot" for o in m["offers"]]
    assert snapshot and {o["gpu_model"] for o in snapshot} == {"H100-SXM"}
    assert len(snapshot) == messages[1]["count"]
    table = cli("watch", "--gpu", "H100-SXM", "--duration", "2", "--rows", "5", TTY_COMPATIBLE="1", TTY_INTERACTIVE="1")
    assert table.code == 0 and min(snapshot, key=lambda o: o["price_per_gpu_hour"])["offer_id"] in table.out, table
    assert f"{len(snapshot)} offers, " in table.out


def test_login_with_totp_then_book_list_and_cancel_a_sandbox_offer(cli: Cli) -> None:
    stack = cli.stack
    email, _ = account(stack.url, stack.state_file, plan="enterprise", roles=("user",), verified=True)
    secret = enrol_mfa(stack.url, email)
    assert cli("bookings").code == 4  # not signed in yet

    bad = cli("login", "--email", email, stdin=f"{PASSWORD}\n000000\n")
    one_error_line(bad, 4, "invalid_mfa_code")
    code = pyotp.TOTP(secret).at(time.time() + 30)  # the next step: the enrolment spent this one
    login = cli("login", "--email", email, stdin=f"{PASSWORD}\n{code}\n")
    assert login.code == 0 and login.out == "" and f"signed in to {stack.url} as {email}" in login.err, login
    assert stat.S_IMODE(cli.sessions.stat().st_mode) == 0o600
    assert cli("bookings", "-o", "json").json()["items"] == []

    offer = sandbox_offer(cli)
    unconfirmed = cli("book", offer["offer_id"], "--hours", "1")
    one_error_line(unconfirmed, 2, "pass --yes")
    first = cli("book", offer["offer_id"], "--hours", "1", "--yes", "-o", "json")
    waiting = first.json()
    assert waiting["status"] == "awaiting_payment" and "pay to confirm it: " in first.err, first  # no card saved yet
    pay_checkout(waiting["checkout_url"])
    with Client(stack.url, store=FileTokenStore(cli.sessions)) as api:  # the library, on the command's session
        assert [v.status for v in api.wait_for_booking(waiting["booking_id"], timeout_s=60)][-1] == "confirmed"

    second = cli(
        "book", offer["offer_id"], "--hours", "2", "--yes", "--idempotency-key", "cli-e2e-" + email, "-o", "json"
    ).json()
    assert second["status"] == "confirmed" and second["hours"] == 2  # the saved card
    replay = cli(
        "book",
        offer["offer_id"],
        "--hours",
        "2",
        "--yes",
        "--idempotency-key",
        "cli-e2e-" + email,
        "-o",
        "json",
        "--no-wait",
    ).json()
    assert replay["booking_id"] == second["booking_id"]

    listed = cli("bookings", "-o", "json").json()["items"]
    assert [b["booking_id"] for b in listed] == [second["booking_id"], waiting["booking_id"]]
    assert second["booking_id"] in cli("bookings").out
    refunded = {}  # the hours not started: the second hour of the 2-hour booking, none of the 1-hour one
    for booking_id in (second["booking_id"], waiting["booking_id"]):
        cancelled = cli("cancel", booking_id, "--yes", "-o", "json").json()
        assert cancelled["status"] == "cancelled", cancelled
        refunded[booking_id] = (cancelled["refunded"] or {"amount": 0})["amount"], cancelled["amount"]["amount"]
    assert refunded == {second["booking_id"]: (second["amount"]["amount"] // 2, second["amount"]["amount"]),
                        waiting["booking_id"]: (0, waiting["amount"]["amount"])}  # fmt: skip
    one_error_line(cli("cancel", waiting["booking_id"], "--yes"), 1, "booking_not_cancellable")
    one_error_line(cli("cancel", "bk_doesnotexist0000000000000", "--yes"), 2)

    assert cli("logout").code == 0 and not json.loads(cli.sessions.read_text())
    one_error_line(cli("bookings"), 4, "not signed in")


def test_an_access_token_no_longer_accepted_is_refreshed_with_the_fingerprint_cookie(cli: Cli) -> None:
    stack = cli.stack
    email, password = account(stack.url, stack.state_file, plan="enterprise", roles=("user",), verified=True)
    assert cli("login", "--email", email, stdin=f"{password}\n").code == 0
    sessions = json.loads(cli.sessions.read_text())
    before = sessions[stack.url]
    sessions[stack.url] = {**before, "access_token": before["access_token"][:-4] + "AAAA"}  # a bad signature
    cli.sessions.write_text(json.dumps(sessions))
    assert cli("bookings", "-o", "json").json()["items"] == []
    after = json.loads(cli.sessions.read_text())[stack.url]
    assert after["refresh_token"] != before["refresh_token"] and after["access_token"] != before["access_token"]
    sessions[stack.url] = {**after, "access_token": "x", "fingerprint": "not-the-one"}  # a stolen refresh token
    cli.sessions.write_text(json.dumps(sessions))
    one_error_line(cli("bookings"), 4, "the session has ended")


def test_the_python_client_reads_every_answer_into_its_models(stack: Stack) -> None:
    with Client(stack.url, ws_url=stack.ws_url) as api:
        first = api.offers(gpu=["A6000"], limit=5)
        every = list(api.iter_offers(gpu=["A6000"], limit=5))
        assert len(every) == first.count and every[:5] == first.items
        assert api.readiness().offers > 0 and api.providers().items and api.presets().items
        if stack.ws_url:
            feed = api.prices({"gpu": ["H100-SXM"]})
            assert isinstance(next(feed), Subscribed) and isinstance(next(feed), Snapshot)
            feed.close()

    async def run() -> tuple[int, int, list[str]]:
        async with AsyncClient(stack.url, ws_url=stack.ws_url) as api:
            gpus, page = await asyncio.gather(api.gpus(), api.offers(gpu=["A6000"], limit=5))
            kinds: list[str] = []
            if stack.ws_url:
                feed = api.prices({"gpu": ["H100-SXM"]})
                kinds = [type(await anext(feed)).__name__, type(await anext(feed)).__name__]
                await feed.aclose()
            return len(gpus.items), page.count, kinds

    gpus, count, kinds = asyncio.run(run())
    assert (gpus, count) == (len(Client(stack.url).gpus().items), first.count)
    assert kinds == (["Subscribed", "Snapshot"] if stack.ws_url else [])


def enrol_mfa(url: str, email: str) -> str:
    """MFA turned on for the account over HTTP (enrol with the password, confirm with a code): its TOTP secret."""
    status, tokens, headers = request("POST", f"{url}/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, tokens
    auth = {"Authorization": f"Bearer {tokens['access_token']}", "Cookie": headers["Set-Cookie"].split(";")[0]}
    status, enrolment, _ = request("POST", f"{url}/auth/mfa/enroll", {"password": PASSWORD}, headers=auth)
    assert status == 200, enrolment
    code = pyotp.TOTP(enrolment["secret"]).now()
    status, enabled, _ = request("POST", f"{url}/auth/mfa/verify", {"challenge": enrolment["challenge"], "code": code})
    assert status == 200 and enabled["status"] == "mfa_enabled", enabled
    return str(enrolment["secret"])


def sandbox_offer(cli: Cli) -> dict[str, Any]:
    """An offer whose hour is above Stripe's smallest charge, not RunPod's (every local booking reserves through the
    sandbox provider; the shared rule keeps test bookings off runpod offers)."""
    page = cli("offers", "provider=lambda,shadeform,verda price>=0.5", "--sort", "price", "--limit", "1", "-o", "json")
    return dict(page.json()["items"][0])
