"""The Python client (clients/python) against httpx's MockTransport: retries that honour Retry-After, the token
refresh with its fingerprint cookie, cursor pagination, MFA login, the token file's permissions; sync and async."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from gpubroker_client import ApiError, ApiUnreachable, AsyncClient, Client, FileTokenStore, NotSignedIn, RetryPolicy
from gpubroker_client._core import retry_after
from gpubroker_client.session import FINGERPRINT_COOKIE, Session

API = "http://api.test"


def tokens(n: int) -> dict[str, Any]:
    return {
        "access_token": f"access-{n}",
        "token_type": "Bearer",
        "expires_in": 900,
        "refresh_token": f"refresh-{n}-" + "x" * 20,
        "refresh_expires_in": 604800,
    }


def session_answer(n: int) -> httpx.Response:
    return httpx.Response(
        200,
        json=tokens(n),
        headers={
            "set-cookie": f"{FINGERPRINT_COOKIE}=fp-{n}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=604800"
        },
    )


def booking_page(ids: list[str], cursor: str | None) -> dict[str, Any]:
    def view(i: str) -> dict[str, Any]:
        return {
            "booking_id": i,
            "status": "confirmed",
            "status_url": f"/bookings/{i}",
            "offer_id": "o-1",
            "provider": "sandbox",
            "gpu_model": "H100-SXM",
            "gpu_count": 1,
            "hours": 1,
            "created_at": "2026-12-05T10:00:00Z",
            "updated_at": "2026-12-05T10:00:00Z",
        }

    return {"items": [view(i) for i in ids], "next_cursor": cursor}


def offer(i: int) -> dict[str, Any]:
    return {
        "offer_id": f"o-{i}",
        "provider": "vast",
        "gpu_model": "H100-SXM",
        "gpu_vendor": "nvidia",
        "gpu_count": 1,
        "gpu_memory_gb": 80.0,
        "instance_type": "x",
        "region": "eu",
        "price_per_hour": 2.0,
        "price_per_gpu_hour": 2.0,
        "spot_price_per_hour": None,
        "vcpus": 8,
        "ram_gb": 64,
        "form_factor": None,
        "compliance": [],
        "available": True,
        "stale": False,
        "source": "vast",
        "as_of": "2026-12-05T10:00:00Z",
    }


def offer_page(ids: list[int], cursor: str | None) -> dict[str, Any]:
    return {
        "items": [offer(i) for i in ids],
        "next_cursor": cursor,
        "count": 5,
        "snapshot_version": "v1",
        "stale": False,
    }


class Recorder:
    """A MockTransport handler answering from a script, keeping each request."""

    def __init__(self, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response] | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer(request) if callable(answer) else answer


def client(rec: Recorder, sleeps: list[float], **kw: Any) -> Client:
    return Client(API, transport=httpx.MockTransport(rec), sleep=sleeps.append, **kw)


def signed_in(n: int = 1) -> Session:
    return Session(f"access-{n}", f"refresh-{n}-" + "x" * 20, f"fp-{n}", 0.0, 0.0)


def test_a_429_is_retried_after_the_seconds_retry_after_gives() -> None:
    rec = Recorder(
        httpx.Response(
            429, headers={"Retry-After": "2"}, json={"error": {"code": "rate_limited", "message": "slow down"}}
        ),
        httpx.Response(200, json={"items": []}),
    )
    sleeps: list[float] = []
    assert client(rec, sleeps).gpus().items == []
    assert sleeps == [2.0] and len(rec.requests) == 2


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)
    assert retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now.timestamp()) == 7.0
    assert retry_after(format_datetime(now - timedelta(seconds=7), usegmt=True), now=now.timestamp()) == 0.0
    assert retry_after("soon") is None and retry_after(None) is None


def test_retries_run_out_with_the_apis_code() -> None:
    limited = httpx.Response(
        429, headers={"Retry-After": "1"}, json={"error": {"code": "rate_limited", "message": "x"}}
    )
    rec = Recorder(*[limited] * 3)
    sleeps: list[float] = []
    with pytest.raises(ApiError) as err:
        client(rec, sleeps, retry=RetryPolicy(max_retries=2)).gpus()
    assert (err.value.status, err.value.code, err.value.retry_after) == (429, "rate_limited", 1.0)
    assert sleeps == [1.0, 1.0]


def test_a_long_retry_after_is_capped() -> None:
    rec = Recorder(httpx.Response(503, headers={"Retry-After": "3600"}), httpx.Response(200, json={"items": []}))
    sleeps: list[float] = []
    client(rec, sleeps, retry=RetryPolicy(max_wait_s=5)).gpus()
    assert sleeps == [5.0]


def test_a_lost_answer_is_retried_only_when_the_call_can_be_replayed() -> None:
    sleeps: list[float] = []
    api = client(Recorder(httpx.Response(502), httpx.Response(200, json={"items": []})), sleeps, session=signed_in())
    api.gpus()  # GET: replayed
    assert len(sleeps) == 1
    rec = Recorder(httpx.Response(502, text="bad gateway"))
    with pytest.raises(ApiError) as err:  # POST without a key: not replayed
        client(rec, sleeps).parse_workload("serve llama")
    assert err.value.code == "http_502" and len(rec.requests) == 1
    view = booking_page(["bk_1"], None)["items"][0] | {"status": "pending"}
    accepted = {"booking_id": "bk_1", "status": "pending", "status_url": "/bookings/bk_1", "booking": view}
    rec = Recorder(httpx.ReadError("connection reset"), httpx.Response(202, json=accepted))
    api = client(rec, sleeps, session=signed_in())
    assert api.book("o-1", 2, idempotency_key="k-1").booking_id == "bk_1"  # POST with a key: replayed, same key
    assert [r.headers["Idempotency-Key"] for r in rec.requests] == ["k-1", "k-1"]


def test_no_connection_at_all_is_api_unreachable_at_once() -> None:
    rec, sleeps = Recorder(httpx.ConnectError("[Errno 111] Connection refused")), list[float]()
    with pytest.raises(ApiUnreachable) as err:
        client(rec, sleeps).gpus()
    assert str(err.value) == f"cannot reach the GPUBroker API at {API}: Connection refused"
    assert len(rec.requests) == 1 and sleeps == []  # nothing there to wait for


def test_answers_lost_every_time_end_as_api_unreachable_after_the_retries() -> None:
    rec, sleeps = Recorder(*[httpx.ReadTimeout("timed out")] * 4), list[float]()
    with pytest.raises(ApiUnreachable, match="timed out"):
        client(rec, sleeps).gpus()
    assert len(rec.requests) == 4 and len(sleeps) == 3


def test_an_expired_access_token_is_refreshed_with_the_fingerprint_cookie_then_the_call_repeated(
    tmp_path: Path,
) -> None:
    store = FileTokenStore(tmp_path / "s.json")
    store.save(API, signed_in(1))
    rec = Recorder(
        httpx.Response(401, json={"error": {"code": "unauthorized", "message": "expired"}}),
        session_answer(2),
        httpx.Response(200, json=booking_page(["bk_1"], None)),
    )
    api = client(rec, [], store=store)
    assert [b.booking_id for b in api.bookings().items] == ["bk_1"]
    first, refresh, again = rec.requests
    assert (
        first.headers["Authorization"] == "Bearer access-1" and first.headers["Cookie"] == f"{FINGERPRINT_COOKIE}=fp-1"
    )
    assert refresh.url.path == "/auth/refresh" and refresh.headers["Cookie"] == f"{FINGERPRINT_COOKIE}=fp-1"
    assert json.loads(refresh.content) == {"refresh_token": "refresh-1-" + "x" * 20}
    assert (
        again.headers["Authorization"] == "Bearer access-2" and again.headers["Cookie"] == f"{FINGERPRINT_COOKIE}=fp-2"
    )
    saved = store.load(API)
    assert saved is not None and (saved.access_token, saved.fingerprint) == ("access-2", "fp-2")


def test_a_refused_refresh_ends_the_session(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "s.json")
    store.save(API, signed_in(1))
    unauthorized = httpx.Response(401, json={"error": {"code": "unauthorized", "message": "revoked"}})
    api = client(Recorder(unauthorized, unauthorized), [], store=store)
    with pytest.raises(NotSignedIn, match="log in again"):
        api.bookings()
    assert store.load(API) is None and api.session is None


def test_a_route_that_needs_a_session_says_so_without_calling() -> None:
    rec = Recorder()
    with pytest.raises(NotSignedIn):
        client(rec, []).bookings()
    assert rec.requests == []


def test_pages_are_followed_by_cursor_with_the_same_filters() -> None:
    rec = Recorder(
        httpx.Response(200, json=offer_page([1, 2], "c1")),
        httpx.Response(200, json=offer_page([3, 4], "c2")),
        httpx.Response(200, json=offer_page([5], None)),
    )
    ids = [
        o.offer_id
        for o in client(rec, []).iter_offers(gpu=["H100", "A100"], max_price_per_gpu_hour=3, spot=True, limit=2)
    ]
    assert ids == ["o-1", "o-2", "o-3", "o-4", "o-5"]
    params = [r.url.params for r in rec.requests]
    assert [p.get("cursor") for p in params] == [None, "c1", "c2"]
    assert all(
        p.get_list("gpu") == ["H100", "A100"]
        and p["max_price_per_gpu_hour"] == "3"
        and p["spot"] == "true"
        and p["limit"] == "2"
        for p in params
    )


def test_login_with_mfa_then_the_code_gives_a_session_bound_to_its_fingerprint(tmp_path: Path) -> None:
    required = httpx.Response(202, json={"challenge": "c" * 24, "expires_in": 300, "mfa_required": True})
    rec = Recorder(required, session_answer(7))
    store = FileTokenStore(tmp_path / "s.json")
    api = client(rec, [], store=store)
    answer = api.login("ada@example.com", "correct horse battery")
    assert not isinstance(answer, Session) and answer.challenge == "c" * 24
    session = api.verify_mfa(answer.challenge, "123456")
    assert (session.access_token, session.fingerprint) == ("access-7", "fp-7")
    assert json.loads(rec.requests[1].content) == {"challenge": "c" * 24, "code": "123456"}
    assert store.load(API) == session


def test_tokens_without_the_fingerprint_cookie_are_refused() -> None:
    with pytest.raises(ValueError, match="fingerprint"):
        client(Recorder(httpx.Response(200, json=tokens(1))), []).login("ada@example.com", "correct horse battery")


def test_the_token_file_is_the_owners_only(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "gpubroker" / "sessions.json"
    store = FileTokenStore(path)
    store.save(API, signed_in(1))
    store.save("http://other", signed_in(2))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert store.load(API) == signed_in(1)
    store.clear(API)
    assert store.load(API) is None and store.load("http://other") == signed_in(2)


def test_an_error_body_becomes_the_apis_code_and_a_foreign_body_its_status() -> None:
    rec = Recorder(
        httpx.Response(404, json={"error": {"code": "gpu_not_found", "message": "no GPU model 'H900'"}}),
        httpx.Response(404, text="<html>not found</html>"),
    )
    api = client(rec, [])
    with pytest.raises(ApiError) as err:
        api.gpu("H900")
    assert (err.value.status, err.value.code) == (404, "gpu_not_found")
    assert rec.requests[0].url.raw_path == b"/gpus/H900"
    with pytest.raises(ApiError) as err:
        api.gpu("NVIDIA H100/80GB")
    assert err.value.code == "http_404" and rec.requests[1].url.raw_path == b"/gpus/NVIDIA%20H100%2F80GB"


def test_an_answer_that_breaks_the_document_is_said_plainly() -> None:
    with pytest.raises(ApiError) as err:
        client(Recorder(httpx.Response(200, json={"itemz": []})), []).gpus()
    assert err.value.code == "unexpected_answer"


def test_the_async_client_retries_refreshes_and_pages_the_same_way() -> None:
    rec = Recorder(
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.Response(401, json={"error": {"code": "unauthorized", "message": "expired"}}),
        session_answer(2),
        httpx.Response(200, json=booking_page(["bk_1", "bk_2"], "c1")),
        httpx.Response(200, json=booking_page(["bk_3"], None)),
    )
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    async def run() -> list[str]:
        async with AsyncClient(API, transport=httpx.MockTransport(rec), sleep=sleep, session=signed_in(1)) as api:
            return [b.booking_id async for b in api.iter_bookings(limit=2)]

    assert asyncio.run(run()) == ["bk_1", "bk_2", "bk_3"]
    assert sleeps == [1.0]
    assert [r.url.path for r in rec.requests] == ["/bookings", "/bookings", "/auth/refresh", "/bookings", "/bookings"]
    assert rec.requests[-1].headers["Authorization"] == "Bearer access-2"


def booking_view(status: str, checkout_url: str | None = None) -> httpx.Response:
    view = booking_page(["bk_1"], None)["items"][0] | {"status": status, "checkout_url": checkout_url}
    return httpx.Response(200, json=view)


def test_waiting_for_a_booking_yields_each_change_and_stops_once_there_is_a_url_to_pay() -> None:
    url = "http://pay.test/cs_1"
    answers = [booking_view("pending"), booking_view("pending"), booking_view("awaiting_payment"),
               booking_view("awaiting_payment", url)]  # fmt: skip
    sleeps: list[float] = []
    seen = client(Recorder(*answers), sleeps, session=signed_in()).wait_for_booking(
        "bk_1", until=frozenset({"confirmed", "awaiting_payment"}), poll_s=0.25
    )
    assert [(v.status, v.checkout_url) for v in seen] == [
        ("pending", None), ("awaiting_payment", None), ("awaiting_payment", url)]  # fmt: skip
    assert sleeps == [0.25, 0.25, 0.25]

    async def run() -> list[str]:
        async def sleep(s: float) -> None:
            return None

        rec = Recorder(booking_view("charged"), booking_view("confirmed"))
        async with AsyncClient(API, transport=httpx.MockTransport(rec), sleep=sleep, session=signed_in()) as api:
            return [v.status async for v in api.wait_for_booking("bk_1")]

    assert asyncio.run(run()) == ["charged", "confirmed"]
    with pytest.raises(TimeoutError, match="still pending"):
        list(client(Recorder(booking_view("pending")), [], session=signed_in()).wait_for_booking("bk_1", timeout_s=-1))
