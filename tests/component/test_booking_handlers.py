"""The booking routes' handlers on in-memory ports: every refusal's status and code, the idempotent replay of
POST /bookings (same status and body; another body 422; keys scoped to the user), the views (no connection details
but in the owner's GET of a confirmed booking), the audit entries, and GET /billing/usage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gpubroker.api.booking_idempotency import replayed
from gpubroker.domain.accounts import Principal
from gpubroker.domain.bookings import BookingStatus, booking_id_for, step_key
from gpubroker.domain.money import Money
from gpubroker.wiring.bookings import BookingCancelApiDeps, BookingCreateApiDeps, BookingReadApiDeps
from tests.component.conftest import handler_module
from tests.events import Ctx
from tests.fakes import UNLIMITED, trail
from tests.fakes_booking_routes import ME, OTHER, BookingWorld, MemoryPersistence, request

BODY = {"offer_id": "runpod-a100-1", "hours": 3}


class Routes:
    def __init__(self) -> None:
        self.w = BookingWorld()
        self.persistence = MemoryPersistence()
        self.trail = trail()
        self.create_deps = BookingCreateApiDeps(front_door=UNLIMITED, audit=self.trail, create=self.w.create_deps(),
                                                idempotency=self.persistence)  # fmt: skip
        self.read_deps = BookingReadApiDeps(front_door=UNLIMITED, store=self.w.store, clock=self.w.clock)
        self.cancel_deps = BookingCancelApiDeps(front_door=UNLIMITED, audit=self.trail, cancel=self.w.cancel_deps())

    def create(self, body: Any = BODY, key: str | None = "key-1", principal: Principal | None = ME,
               **kw: Any) -> tuple[int, dict[str, Any], dict[str, Any]]:  # fmt: skip
        headers = {"Idempotency-Key": key} if key is not None else {}
        return request(handler_module("api_create_booking"), "POST", "/bookings", self.create_deps, body=body,
                       headers=headers, principal=principal, **kw)  # fmt: skip

    def get(self, booking_id: str, principal: Principal | None = ME) -> tuple[int, dict[str, Any], dict[str, Any]]:
        return request(handler_module("api_get_booking"), "GET", f"/bookings/{booking_id}", self.read_deps,
                       resource="/bookings/{booking_id}", path_params={"booking_id": booking_id},
                       principal=principal)  # fmt: skip

    def cancel(self, booking_id: str, principal: Principal | None = ME) -> tuple[int, dict[str, Any], dict[str, Any]]:
        return request(handler_module("api_cancel_booking"), "POST", f"/bookings/{booking_id}/cancel",
                       self.cancel_deps, resource="/bookings/{booking_id}/cancel",
                       path_params={"booking_id": booking_id}, principal=principal)  # fmt: skip

    def page(self, principal: Principal | None = ME, **query: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
        q = {k: [v] for k, v in query.items()} or None
        return request(handler_module("api_list_bookings"), "GET", "/bookings", self.read_deps, query=q,
                       principal=principal)  # fmt: skip

    def audited(self) -> list[tuple[str, str, str, str]]:
        log = self.trail.log
        return [(e.actor, e.action, e.resource, e.outcome) for n in range(log.shards) for e in log.all_entries(n)]


@pytest.fixture
def r() -> Routes:
    return Routes()


def code(out: tuple[int, dict[str, Any], dict[str, Any]]) -> tuple[int, str | None]:
    return out[0], out[1].get("error", {}).get("code")


def test_create_answers_202_with_the_id_status_and_status_url_and_audits(r: Routes) -> None:
    status, body, _ = r.create()
    bid = booking_id_for(ME.user_id, "key-1")
    assert status == 202
    assert (body["booking_id"], body["status"], body["status_url"]) == (bid, "pending", f"/bookings/{bid}")
    assert body["booking"]["hours"] == 3 and body["booking"]["connection"] is None
    assert list(r.w.saga.started) == [bid]
    assert r.audited() == [(f"user:{ME.user_id}", "booking.create", f"booking/{bid}", "ok")]


def test_the_same_key_and_body_replay_the_same_status_and_body(r: Routes) -> None:
    first = r.create()
    r.w.clock.advance(60)
    again = r.create()
    assert (again[0], again[1]) == (first[0], first[1]) and len(r.w.store.items) == 1 and len(r.w.saga.started) == 1


def test_the_same_key_with_another_body_is_422_reused(r: Routes) -> None:
    r.create()
    assert code(r.create(body={**BODY, "hours": 4})) == (422, "idempotency_key_reused")
    assert len(r.w.store.items) == 1


def test_keys_are_scoped_to_the_user(r: Routes) -> None:
    a, b = r.create(), r.create(principal=OTHER)
    assert a[0] == b[0] == 202 and a[1]["booking_id"] != b[1]["booking_id"]


def test_a_request_while_the_first_runs_is_409_in_progress_with_retry_after(r: Routes) -> None:
    def nested() -> dict[str, Any]:  # the first request, still running, when the duplicate arrives
        return {"status_code": 0, "body": code(r.create())}

    out = replayed(nested, user_id=ME.user_id, key="key-1", body={**BODY, "gpu_count": None,
                   "max_price_per_hour": None}, persistence=r.persistence, context=Ctx())  # fmt: skip
    assert out["body"] == (409, "idempotency_in_progress")
    assert r.create(key="key-2")[0] == 202  # another key is not blocked

    # the header itself, on the duplicate's answer
    def nested_headers() -> dict[str, Any]:
        return {"status_code": 0, "body": r.create(key="key-3")[2].get("Retry-After")}

    got = replayed(nested_headers, user_id=ME.user_id, key="key-3", body={**BODY, "gpu_count": None,
                   "max_price_per_hour": None}, persistence=r.persistence, context=Ctx())  # fmt: skip
    assert got["body"] == "1"


@pytest.mark.parametrize("key", [None, "", "   ", "k" * 256])
def test_a_missing_empty_or_overlong_key_is_400(r: Routes, key: str | None) -> None:
    assert code(r.create(key=key)) == (400, "idempotency_key_required")
    assert not r.w.store.items


def test_a_key_of_255_characters_is_accepted(r: Routes) -> None:
    assert r.create(key="k" * 255)[0] == 202


def test_without_a_user_401_and_without_a_verified_email_403(r: Routes) -> None:
    assert code(r.create(principal=None)) == (401, "unauthorized")
    assert code(r.create(principal=Principal(user_id="u-new"))) == (403, "email_not_verified")
    assert not r.w.store.items


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({**BODY, "offer_id": "nope"}, (404, "offer_not_found")),
        ({**BODY, "offer_id": "vast-gone"}, (409, "offer_unavailable")),
        ({**BODY, "hours": 0}, (422, "validation_error")),
        ({**BODY, "hours": 721}, (422, "validation_error")),
        ({**BODY, "hours": 1.5}, (422, "validation_error")),
        ({**BODY, "hours": "3"}, (422, "validation_error")),
        ({"offer_id": "runpod-a100-1"}, (422, "validation_error")),
        ({**BODY, "gpu_count": 65}, (422, "validation_error")),
        ({**BODY, "gpu_count": 5}, (422, "gpu_count_not_allowed")),
        ({**BODY, "offer_id": "lambda-h100-8", "gpu_count": 1}, (422, "gpu_count_not_allowed")),
        ({**BODY, "max_price_per_hour": 2.5}, (422, "validation_error")),
        ({**BODY, "max_price_per_hour": {"amount": 100, "currency": "eur"}}, (422, "validation_error")),
        ({**BODY, "max_price_per_hour": {"amount": -1, "currency": "usd"}}, (422, "validation_error")),
        ({**BODY, "extra": 1}, (422, "validation_error")),
    ],
)
def test_bad_bodies(r: Routes, body: dict[str, Any], expected: tuple[int, str]) -> None:
    assert code(r.create(body=body)) == expected
    assert not r.w.store.items and not r.w.saga.started


def test_a_refused_create_is_not_remembered_the_key_can_be_used_again(r: Routes) -> None:
    assert r.create(body={**BODY, "offer_id": "vast-gone"})[0] == 409
    assert r.create()[0] == 202


def test_get_is_the_owners_only_and_a_malformed_id_is_404(r: Routes) -> None:
    bid = r.create()[1]["booking_id"]
    assert r.get(bid)[0] == 200
    assert code(r.get(bid, principal=OTHER)) == (404, "booking_not_found")
    assert code(r.get("bk_NOT-a-valid-id")) == (404, "booking_not_found")
    assert r.get("bk_../../x")[0] == 404
    assert code(r.get(bid, principal=None)) == (401, "unauthorized")


def _confirm(r: Routes, bid: str, *, amount: int = 3_000) -> None:
    b = r.w.store.get(ME.user_id, bid)
    assert b is not None
    at = r.w.clock.now()
    pi = r.w.payments.charge(customer_id="cus", payment_method="pm", amount=Money(amount, "usd"),
                             idempotency_key=step_key(bid, "charge"), metadata={})  # fmt: skip
    assert r.w.store.save(b.with_status(BookingStatus.CONFIRMED, at, confirmed_at=at, amount=Money(amount, "usd"),
                                        payment_intent_id=pi, instance_id="i-1",
                                        connection={"host": "10.0.0.1", "ssh_key": "secret"}))  # fmt: skip


def test_connection_details_only_in_the_owners_get_of_a_confirmed_booking(r: Routes) -> None:
    bid = r.create()[1]["booking_id"]
    _confirm(r, bid)
    assert r.get(bid)[1]["connection"] == {"host": "10.0.0.1", "ssh_key": "secret"}
    assert r.page()[1]["items"][0]["connection"] is None
    status, body, _ = r.cancel(bid)
    assert status == 200 and body["connection"] is None
    assert r.get(bid)[1]["connection"] is None  # cancelled: no longer shown


def test_cancel_refunds_audits_cancel_and_refund_and_a_second_cancel_is_409(r: Routes) -> None:
    bid = r.create()[1]["booking_id"]
    _confirm(r, bid)
    r.w.clock.advance(1800)
    status, body, _ = r.cancel(bid)
    assert (status, body["status"], body["refunded"]) == (200, "cancelled", {"amount": 2_000, "currency": "usd"})
    assert code(r.cancel(bid)) == (409, "booking_not_cancellable")
    actions = [(a, res, o) for _, a, res, o in r.audited()]
    assert actions[1:] == [("booking.refund", f"booking/{bid}", "ok"), ("booking.cancel", f"booking/{bid}", "ok"),
                           ("booking.cancel", f"booking/{bid}", "refused:409")]  # fmt: skip


def test_cancel_refusals(r: Routes) -> None:
    bid = r.create()[1]["booking_id"]
    assert code(r.cancel(bid)) == (409, "booking_in_progress")
    assert code(r.cancel(bid, principal=OTHER)) == (404, "booking_not_found")
    assert code(r.cancel("nonsense")) == (404, "booking_not_found")
    assert code(r.cancel(bid, principal=None)) == (401, "unauthorized")


def test_list_pages_newest_first_and_a_bad_cursor_is_400(r: Routes) -> None:
    ids = []
    for i in range(3):
        ids.append(r.create(key=f"k{i}")[1]["booking_id"])
        r.w.clock.advance(5)
    status, page, _ = r.page(limit="2")
    assert status == 200 and [b["booking_id"] for b in page["items"]] == ids[::-1][:2]
    rest = r.page(limit="2", cursor=page["next_cursor"])[1]
    assert [b["booking_id"] for b in rest["items"]] == ids[:1] and rest["next_cursor"] is None
    assert r.page(principal=OTHER)[1]["items"] == []
    assert code(r.page(limit="0")) == (422, "validation_error")
    assert code(r.page(sort="x")) == (400, "unknown_parameter")


def test_usage_reports_this_months_bookings_totals_and_the_plan(r: Routes) -> None:
    r.w.clock.t = datetime(2026, 11, 3, tzinfo=UTC)
    bid = r.create()[1]["booking_id"]
    _confirm(r, bid, amount=4_500)
    r.w.clock.t += timedelta(hours=1)
    pro = Principal(user_id=ME.user_id, plan="pro", email_verified=True)
    status, body, _ = request(handler_module("api_billing_usage"), "GET", "/billing/usage", r.read_deps,
                              principal=pro)  # fmt: skip
    assert status == 200 and body["plan"] == "pro"
    assert [(x["booking_id"], x["gpu_hours"], x["amount"]["amount"]) for x in body["bookings"]] == [(bid, 12, 4_500)]
    assert body["totals"] == [{"currency": "usd", "gpu_hours": 12, "amount": {"amount": 4_500, "currency": "usd"},
                               "refunded": {"amount": 0, "currency": "usd"},
                               "net": {"amount": 4_500, "currency": "usd"}}]  # fmt: skip
    assert request(handler_module("api_billing_usage"), "GET", "/billing/usage", r.read_deps, principal=None)[0] == 401


def test_the_header_name_is_case_insensitive(r: Routes) -> None:
    status, body, _ = request(handler_module("api_create_booking"), "POST", "/bookings", r.create_deps, body=BODY,
                              headers={"idempotency-key": "lower"})  # fmt: skip
    assert status == 202 and body["booking_id"] == booking_id_for(ME.user_id, "lower")


@pytest.mark.parametrize("bad", ["x" * 300, "bk_" + "A" * 26, "bk_" + "a" * 25, "%00", "bk_" + "a" * 27])
def test_any_malformed_id_is_a_404_on_get_and_cancel(r: Routes, bad: str) -> None:
    assert code(r.get(bad)) == (404, "booking_not_found")
    assert code(r.cancel(bad)) == (404, "booking_not_found")
