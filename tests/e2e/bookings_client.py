"""A signed-in booker on the local stack, and what the e2e booking tests and benchmark look at: the booking's
status over HTTP, the local Stripe server's PaymentIntents and refunds, the sandbox provider's live instances and
the stack's fault injection. Shared by tests/e2e/test_bookings.py and tests/bench/bench_bookings.py."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from tests.e2e.conftest import request, session

SETTLED = frozenset({"confirmed", "failed", "cancelled", "needs_attention"})


@dataclass
class Booker:
    url: str
    state: dict[str, Any]
    headers: dict[str, str]
    email: str = ""

    @classmethod
    def signed_in(cls, url: str, state_file: Path, *, plan: str = "enterprise") -> Booker:
        """A fresh account with a verified address (the money routes' guard), signed in."""
        state = json.loads(state_file.read_text())
        headers, _ = session(url, state_file, plan=plan, roles=("user",), verified=True)
        return cls(url=url, state=state, headers=headers)

    def book(
        self, offer_id: str, *, hours: int = 1, key: str | None = None, **extra: Any
    ) -> tuple[int, dict[str, Any]]:
        headers = {**self.headers, "Idempotency-Key": key or uuid.uuid4().hex}
        status, body, _ = request("POST", f"{self.url}/bookings", {"offer_id": offer_id, "hours": hours, **extra},
                                  headers=headers)  # fmt: skip
        return status, body

    def get(self, booking_id: str) -> tuple[int, dict[str, Any]]:
        status, body, _ = request("GET", f"{self.url}/bookings/{booking_id}", headers=self.headers)
        return status, body

    def cancel(self, booking_id: str) -> tuple[int, dict[str, Any]]:
        status, body, _ = request("POST", f"{self.url}/bookings/{booking_id}/cancel", headers=self.headers)
        return status, body

    def wait(self, booking_id: str, statuses: frozenset[str] = SETTLED, timeout_s: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            status, body = self.get(booking_id)
            assert status == 200, (status, body)
            if body["status"] in statuses:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"booking {booking_id} still {body['status']} after {timeout_s}s: {body}")
            time.sleep(0.1)


def available_offer(url: str, headers: dict[str, str], *, min_price: float = 0.5) -> dict[str, Any]:
    """The cheapest available offer at ``min_price`` USD/h or more (an hour of it is above Stripe's smallest charge)."""
    status, body, _ = request(
        "GET", f"{url}/offers?sort=price&limit=50&min_price_per_hour={min_price}&available=true", headers=headers
    )
    assert status == 200 and body["items"], (status, body)
    return dict(next(o for o in body["items"] if o["available"] and o["price_per_hour"] >= min_price))


def dynamodb(state: dict[str, Any]) -> Any:
    return boto3.client("dynamodb", endpoint_url=state["aws_endpoint"], region_name="us-east-1")
