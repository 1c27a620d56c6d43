"""Bodies of the /bookings routes and ``GET /billing/usage``.

Money is always ``{"amount": <int minor units>, "currency": "<iso code, lower case>"}``. The public view of a
booking (``BookingView``) never carries the saga's internals (instance, PaymentIntent, meter event ids, version)
nor the connection details; those appear only in ``GET /bookings/{id}`` answered to the owner of a confirmed
booking (``BookingView.of(booking, with_connection=True)``): not in lists, not in the 202, not in the WebSocket
push (a message on a socket is easier to leak than an answer to one authenticated request).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from gpubroker.domain.bookings import MAX_HOURS, MIN_HOURS, Booking, BookingStatus
from gpubroker.domain.money import Money

if TYPE_CHECKING:
    from gpubroker.services.bookings import Usage


class MoneyModel(BaseModel):
    """An amount: integer minor units (cents) and a lower-case ISO 4217 code."""

    model_config = ConfigDict(extra="forbid")

    amount: StrictInt = Field(ge=0, le=10**13, description="minor units (cents for usd)")
    currency: str = Field(pattern=r"^[a-z]{3}$", description="ISO 4217, lower case (usd)")

    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @classmethod
    def exact(cls, money: Money) -> MoneyModel:
        return cls(amount=money.amount_minor, currency=money.currency)

    @classmethod
    def of(cls, money: Money | None) -> MoneyModel | None:
        return None if money is None else cls.exact(money)


class CreateBookingBody(BaseModel):
    """``POST /bookings``: the offer, the hours, optionally the GPUs (per-GPU providers) and a price ceiling."""

    model_config = ConfigDict(extra="forbid")

    offer_id: str = Field(min_length=1, max_length=200, description="an offer id from GET /offers")
    hours: StrictInt = Field(ge=MIN_HOURS, le=MAX_HOURS, description=f"{MIN_HOURS}..{MAX_HOURS}")
    gpu_count: StrictInt | None = Field(
        default=None, ge=1, le=64,
        description="GPUs to rent: below the offer's count only at per-GPU providers (runpod, vast, sandbox); "
        "default: the offer's count",
    )  # fmt: skip
    max_price_per_hour: MoneyModel | None = Field(
        default=None,
        description="the most you will pay per hour for the whole booking (all its GPUs), in usd; if the live price "
        "is above it when the saga locks the price, the booking fails with reason price_changed",
    )


class BookingView(BaseModel):
    """A booking as its owner sees it."""

    booking_id: str
    status: BookingStatus
    status_url: str = Field(description="GET this for the booking's current status")
    offer_id: str
    provider: str
    gpu_model: str
    gpu_count: int
    hours: int
    created_at: datetime
    updated_at: datetime
    max_price_per_hour: MoneyModel | None = None
    price_per_hour: MoneyModel | None = Field(default=None, description="locked by the saga (whole booking)")
    amount: MoneyModel | None = Field(default=None, description="price_per_hour x hours")
    refunded: MoneyModel | None = None
    reason: str | None = Field(default=None, description="why it failed (failed, needs_attention)")
    reason_detail: dict[str, Any] = Field(default_factory=dict)
    checkout_url: str | None = Field(default=None, description="awaiting_payment: where to pay")
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None
    connection: dict[str, Any] | None = Field(
        default=None, description="how to reach the instance: only in GET /bookings/{id} of a confirmed booking"
    )

    @classmethod
    def of(cls, b: Booking, *, with_connection: bool = False) -> BookingView:
        show = with_connection and b.status == BookingStatus.CONFIRMED
        detail = {k: v for k, v in b.reason_detail.items() if k != "cancel"}
        return cls(
            booking_id=b.booking_id, status=b.status, status_url=f"/bookings/{b.booking_id}", offer_id=b.offer_id,
            provider=b.provider, gpu_model=b.gpu_model, gpu_count=b.gpu_count, hours=b.hours,
            created_at=b.created_at, updated_at=b.updated_at,
            max_price_per_hour=MoneyModel.of(b.max_price_per_hour), price_per_hour=MoneyModel.of(b.price_per_hour),
            amount=MoneyModel.of(b.amount), refunded=MoneyModel.of(b.refunded), reason=b.reason,
            reason_detail=detail, checkout_url=b.checkout_url, confirmed_at=b.confirmed_at,
            cancelled_at=b.cancelled_at, connection=b.connection if show else None,
        )  # fmt: skip


def public_view(booking: Booking) -> dict[str, Any]:
    """The JSON of the WebSocket push (never the connection details)."""
    return BookingView.of(booking).model_dump(mode="json", exclude={"connection"})


class BookingAccepted(BaseModel):
    """``POST /bookings``' 202: the saga runs asynchronously; poll ``status_url`` or watch the WebSocket."""

    booking_id: str
    status: BookingStatus
    status_url: str
    booking: BookingView


class BookingPage(BaseModel):
    items: list[BookingView]
    next_cursor: str | None = Field(description="pass as 'cursor' for the next page; null after the last one")


class UsageLine(BaseModel):
    booking_id: str
    status: BookingStatus
    gpu_model: str
    gpu_count: int
    hours: int
    gpu_hours: int = Field(description="hours x gpu_count booked")
    amount: MoneyModel | None
    refunded: MoneyModel | None
    net: MoneyModel | None = Field(description="amount - refunded")
    created_at: datetime


class UsageTotal(BaseModel):
    currency: str
    gpu_hours: int
    amount: MoneyModel
    refunded: MoneyModel
    net: MoneyModel


class UsageReport(BaseModel):
    """This calendar month's (UTC) confirmed and cancelled bookings of the caller, and the caller's plan."""

    plan: str
    period_start: datetime
    period_end: datetime
    bookings: list[UsageLine]
    totals: list[UsageTotal] = Field(description="one per currency")

    @classmethod
    def of(cls, plan: str, usage: Usage) -> UsageReport:
        lines = []
        for b in usage.bookings:
            net = b.amount - (b.refunded or Money.zero(b.amount.currency)) if b.amount is not None else None
            lines.append(UsageLine(booking_id=b.booking_id, status=b.status, gpu_model=b.gpu_model,
                                   gpu_count=b.gpu_count, hours=b.hours, gpu_hours=usage.gpu_hours(b),
                                   amount=MoneyModel.of(b.amount), refunded=MoneyModel.of(b.refunded),
                                   net=MoneyModel.of(net), created_at=b.created_at))  # fmt: skip
        totals = [
            UsageTotal(currency=cur, gpu_hours=hours, amount=MoneyModel.exact(amount),
                       refunded=MoneyModel.exact(refunded), net=MoneyModel.exact(amount - refunded))
            for cur, (hours, amount, refunded) in sorted(usage.totals().items())
        ]  # fmt: skip
        return cls(plan=plan, period_start=usage.period_start, period_end=usage.period_end, bookings=lines,
                   totals=totals)  # fmt: skip
