"""Bodies of the /billing routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

WebhookOutcome = Literal[
    "applied", "superseded", "user_unknown", "recorded", "received", "ignored", "duplicate",
    # a booking's Checkout (services/billing_webhooks.py settle_booking_checkout): the saga's task token answered
    "booking_paid", "booking_paid_late", "booking_paid_late_refunded", "booking_payment_expired", "booking_unknown",
    "booking_no_payment_intent", "booking_unwired",
]  # fmt: skip


class WebhookAck(BaseModel):
    """What ``POST /billing/webhook`` did with a verified event (Stripe needs only the 2xx)."""

    received: Literal[True] = True
    event_id: str = Field(description="the Stripe event's id")
    type: str = Field(description="the Stripe event's type")
    outcome: WebhookOutcome = Field(
        description="applied: the plan changed; superseded: a newer event had set the plan (recorded); "
        "user_unknown: no user for the customer (recorded); recorded: a failed payment kept; received: kept for "
        "the booking work; ignored: a type we do not handle (recorded); duplicate: this event was seen before; "
        "booking_paid: a booking's Checkout paid, its saga resumed; booking_paid_late(_refunded): paid after the "
        "booking ended (refunded); booking_payment_expired: the saga's wait failed; booking_unknown / "
        "booking_no_payment_intent / booking_unwired: a booking Checkout that could not be settled (recorded)"
    )


class CheckoutRequest(BaseModel):
    """``POST /billing/checkout``: the plan to subscribe to (free needs no checkout)."""

    model_config = ConfigDict(extra="forbid")

    plan: Literal["pro", "enterprise"] = Field(description="the paid plan to change to")


class CheckoutSession(BaseModel):
    """A Stripe Checkout Session for a plan change: open ``url`` to pay. The plan changes when Stripe's webhook
    arrives, and the new rate limit applies from the next token refresh."""

    session_id: str = Field(description="the Checkout Session's id (cs_...)")
    url: str = Field(description="where the payer completes the checkout")
