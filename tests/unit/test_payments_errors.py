"""The Stripe error mapping of StripePayments and the keys billing derives (pure: no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import stripe

from gpubroker.adapters.payments import mapped, plan_lookup_key
from gpubroker.domain.errors import PaymentDeclined, PaymentsUnavailable, Unavailable
from gpubroker.services.billing_checkout import checkout_key
from infra.stripe_setup import PLANS

SDK: Any = stripe  # some error constructors are untyped


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (SDK.CardError("declined", None, "card_declined", http_status=402), PaymentDeclined),
        (SDK.APIConnectionError("timed out"), PaymentsUnavailable),
        (stripe.RateLimitError("slow down", http_status=429), PaymentsUnavailable),
        (stripe.APIError("boom", http_status=500), PaymentsUnavailable),
        (stripe.APIError("bad gateway", http_status=502), PaymentsUnavailable),
        (
            SDK.InvalidRequestError("no such customer", "customer", code="resource_missing", http_status=404),
            PaymentDeclined,
        ),
        (stripe.IdempotencyError("reused", http_status=400), PaymentDeclined),
        (stripe.AuthenticationError("bad key", http_status=401), Unavailable),
    ],
)
def test_stripe_errors_map_to_permanent_or_transient_domain_errors(error: stripe.StripeError, expected: type) -> None:
    got = mapped(error)
    assert type(got) is expected
    if expected is PaymentDeclined and isinstance(error, stripe.CardError):
        assert got.details == {"code": "card_declined"}  # type: ignore[attr-defined]


def test_other_exceptions_pass_through() -> None:
    error = ValueError("not stripe")
    assert mapped(error) is error


def test_keys_and_lookup_keys() -> None:
    assert plan_lookup_key("pro") == "gpubroker_pro_monthly"
    assert {p.lookup_key for p in PLANS} == {"gpubroker_free_monthly", "gpubroker_pro_monthly",
                                             "gpubroker_enterprise_monthly"}  # fmt: skip
    assert [p.monthly_minor for p in PLANS] == [0, 2900, 49900]
    at = datetime(2026, 12, 5, 23, 59, tzinfo=UTC)
    assert checkout_key("u1", "pro", at) == "user:u1:checkout:pro:2026-12-05"
