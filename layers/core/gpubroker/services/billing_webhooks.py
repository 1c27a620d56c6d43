"""``POST /billing/webhook``: a Stripe event, verified, deduplicated and applied once.

1. The raw body's ``Stripe-Signature`` is checked by the official SDK (``stripe.Webhook.construct_event``: HMAC-SHA256
   of ``"{t}.{body}"`` with the endpoint secret, ``t`` within ``tolerance_s`` = 300 s). Anything else is
   :class:`~gpubroker.domain.errors.InvalidSignature` (400) before a single write.
2. The event id is claimed by a conditional write (``adapters/billing_store.py``): a replay of an accepted event is
   answered 200 ``duplicate`` and changes nothing (Stripe retries until it gets a 2xx, and may deliver twice).
3. ``customer.subscription.created/updated/deleted``: the user's plan (free, pro, enterprise), in the same
   transaction as the claim, and only if no newer subscription event set it (ordered by ``created``, then id).
   The user is the subscription's ``metadata.user_id`` (checkout sets it), else the customer linked to a user
   before. The new plan's rate limit applies from the user's next token refresh (the access token carries the
   plan; ``services/auth.refresh`` reads the profile anew).
4. ``invoice.payment_failed``: recorded (invoice, customer, amount due, attempt) for the billing views to come.
5. ``checkout.session.completed`` / ``checkout.session.expired`` of a booking (``metadata.booking_id``): the
   booking saga's Checkout wait. Completed: the PaymentIntent is recorded on the booking (status ``charged``) and
   the saga's task token is sent back (``TaskTokens.succeed``); expired: ``TaskTokens.fail(token,
   "PaymentTimeout")`` (the saga refunds nothing, releases the instance, fails the booking ``payment_timeout``).
   A session paid after its booking ended (the window ran out first) is refunded at once (``booking:{id}:refund``).
   Both are done BEFORE the event id is claimed and are idempotent (a settled token is no error), so a delivery
   that crashed half way is completed by Stripe's next one.
6. The other events issue 12 lists (checkout, invoice paid, payment intents, refunds) are acknowledged and recorded
   with their body, for the booking saga's session; an event type we never asked for is recorded as ``ignored``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from gpubroker.domain import billing_events as be
from gpubroker.domain.accounts import User
from gpubroker.domain.billing_events import EventRecord, PlanOutcome
from gpubroker.domain.errors import InvalidSignature, InvalidWebhookEvent
from gpubroker.observability import logger

if TYPE_CHECKING:
    from gpubroker.ports import BookingStore, Payments, TaskTokens
    from gpubroker.services.booking_saga import AuditTrail

TOLERANCE_S = 300
CHECKOUT_COMPLETED: Final = "checkout.session.completed"
CHECKOUT_EXPIRED: Final = "checkout.session.expired"
PAYMENT_TIMEOUT: Final = "PaymentTimeout"
"""The ASL error the saga's Checkout wait fails with when the session expired (the booking: ``payment_timeout``)."""


class WebhookSecret(Protocol):
    """The endpoint's signing secret (``whsec_...``); empty when none is configured (every event is refused)."""

    def value(self) -> str: ...


class UserLookup(Protocol):
    def by_id(self, user_id: str) -> User | None: ...


class BillingStore(Protocol):
    def claim(self, record: EventRecord) -> bool: ...

    def apply_plan(
        self, record: EventRecord, *, email: str, plan: str, order: str, customer: str | None
    ) -> PlanOutcome: ...

    def link_customer(self, customer_id: str, *, user_id: str, email: str) -> None: ...

    def customer(self, customer_id: str) -> tuple[str, str] | None: ...


@dataclass(frozen=True, kw_only=True)
class WebhookDeps:
    secret: WebhookSecret
    store: BillingStore
    users: UserLookup
    clock: Callable[[], float] = time.time
    tolerance_s: int = TOLERANCE_S
    bookings: BookingStore | None = None  # the booking saga's Checkout wait (None: not wired, events recorded only)
    task_tokens: TaskTokens | None = None
    payments: Callable[[], Payments] | None = None  # built on the first Checkout paid after its booking ended
    audit: AuditTrail | None = None  # that refund's ``booking.refund`` entry


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    type: str
    outcome: str


_REASONS = (
    ("no stripe-signature", "missing"),
    ("tolerance", "stale"),
    ("no webhook secret", "no_secret"),
    ("unable to extract", "malformed"),
    ("expected scheme", "malformed"),
)


def _refusal(message: str) -> str:
    """The audit reason of a refused signature (the client is told only ``invalid_signature``)."""
    text = message.lower()
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    return "mismatch"


def verify(payload: str, signature: str | None, *, deps: WebhookDeps) -> be.StripeEvent:
    """The event of a body Stripe signed for this endpoint, or :class:`InvalidSignature`."""
    import stripe

    secret = deps.secret.value()
    if not secret:
        logger.error("no Stripe webhook secret configured: every webhook is refused")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret, tolerance=deps.tolerance_s)
    except stripe.SignatureVerificationError as exc:
        raise InvalidSignature(_refusal(str(exc))) from None
    except ValueError:  # signed by us yet not JSON: nothing Stripe sends
        raise InvalidWebhookEvent("the body is not a Stripe event") from None
    return be.read_event(event.to_dict())


def _user_of(event: be.StripeEvent, deps: WebhookDeps) -> tuple[str, str] | None:
    """(user id, email) of an event's user: its ``metadata.user_id`` (then linked to its customer), else the
    customer's link."""
    user_id, customer = be.user_id_of(event.obj), be.customer_of(event.obj)
    if user_id:
        user = deps.users.by_id(user_id)
        if user is not None:
            if customer:
                deps.store.link_customer(customer, user_id=user.user_id, email=user.email)
            return user.user_id, user.email
    if customer:
        return deps.store.customer(customer)
    return None


def receive(payload: str, signature: str | None, *, deps: WebhookDeps) -> WebhookResult:
    """Verify, deduplicate and apply one webhook delivery (module docstring)."""
    event = verify(payload, signature, deps=deps)
    now = int(deps.clock())
    customer = be.customer_of(event.obj)
    fields = {"object_id": str(event.obj.get("id") or "")[:255], **({"customer": customer} if customer else {})}

    def record(outcome: str, more: dict[str, str] | None = None, body: str | None = None) -> EventRecord:
        return EventRecord(event_id=event.event_id, type=event.type, created=event.created, outcome=outcome,
                           received_at=now, fields={**fields, **(more or {})}, payload=body)  # fmt: skip

    if event.type in be.SUBSCRIPTION_EVENTS:
        plan = be.subscription_plan(event)
        found = _user_of(event, deps)
        if found is None:
            rec = record("user_unknown", {"plan": plan.value})
            return WebhookResult(event.event_id, event.type, "user_unknown" if deps.store.claim(rec) else "duplicate")
        user_id, email = found
        rec = record("applied", {"plan": plan.value, "user_id": user_id})
        outcome = deps.store.apply_plan(rec, email=email, plan=plan.value, order=event.order, customer=customer)
        if outcome == "applied":
            logger.info("plan changed", extra={"user_id": user_id, "plan": plan.value, "event_id": event.event_id})
        return WebhookResult(event.event_id, event.type, outcome)
    if event.type == be.PAYMENT_FAILED:
        due = be.invoice_amount_due(event.obj)
        more = {"attempt_count": str(event.obj.get("attempt_count") or 0)}
        if due is not None:
            more["amount_due"] = json.dumps(due.to_json())
        found = deps.store.customer(customer) if customer else None
        if found is not None:
            more["user_id"] = found[0]
        claimed = deps.store.claim(record("recorded", more))
        return WebhookResult(event.event_id, event.type, "recorded" if claimed else "duplicate")
    if event.type in {CHECKOUT_COMPLETED, CHECKOUT_EXPIRED} and _booking_of(event.obj):
        settled = _settle_booking_checkout(event, deps)
        claimed = deps.store.claim(record(settled, {"booking_id": _booking_of(event.obj) or ""}))
        return WebhookResult(event.event_id, event.type, settled if claimed else "duplicate")
    if event.type in be.RECEIVED_ONLY:
        body = payload if len(payload.encode()) <= be.MAX_STORED_PAYLOAD else None
        claimed = deps.store.claim(record("received", body=body))
        return WebhookResult(event.event_id, event.type, "received" if claimed else "duplicate")
    claimed = deps.store.claim(record("ignored"))
    return WebhookResult(event.event_id, event.type, "ignored" if claimed else "duplicate")


def _booking_of(obj: Mapping[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    value = metadata.get("booking_id") if isinstance(metadata, Mapping) else None
    return value if isinstance(value, str) and value else None


def _settle_booking_checkout(event: be.StripeEvent, deps: WebhookDeps) -> str:
    """Record a booking's paid Checkout Session and answer the saga's task token (module docstring, 5.)."""
    booking_id, user_id = _booking_of(event.obj), be.user_id_of(event.obj)
    if deps.bookings is None or deps.task_tokens is None or not booking_id or not user_id:
        logger.error("booking checkout event not handled: no booking store wired", extra={"event_id": event.event_id})
        return "booking_unwired"
    booking = deps.bookings.get(user_id, booking_id)
    if booking is None:
        return "booking_unknown"
    if event.type == CHECKOUT_EXPIRED:
        if booking.task_token:
            deps.task_tokens.fail(booking.task_token, PAYMENT_TIMEOUT, "the Checkout Session expired unpaid")
        return "booking_payment_expired"
    intent = event.obj.get("payment_intent")
    intent_id = intent.get("id") if isinstance(intent, Mapping) else intent
    if not isinstance(intent_id, str) or not intent_id:
        return "booking_no_payment_intent"
    return _paid(deps, deps.bookings, deps.task_tokens, user_id=user_id, booking_id=booking_id, intent_id=intent_id)


def _paid(deps: WebhookDeps, bookings: BookingStore, tokens: TaskTokens, *, user_id: str, booking_id: str,
          intent_id: str) -> str:  # fmt: skip
    """Record the PaymentIntent, then answer the token; paid after the saga gave up (the window over, cancelled):
    refund it now."""
    from gpubroker.services.booking_saga import record_checkout_payment, refund_late_payment

    now = datetime.fromtimestamp(deps.clock(), UTC)
    paid = record_checkout_payment(bookings, user_id, booking_id, intent_id, now)
    if paid is None:
        return "booking_unknown"
    if not paid.terminal:
        if paid.task_token:
            tokens.succeed(paid.task_token, {"payment_intent_id": intent_id})
        return "booking_paid"
    if deps.payments is None or deps.audit is None:
        logger.error("late Checkout payment not refunded: no payments wired", extra={"booking_id": booking_id})
        return "booking_paid_late"
    refund_late_payment(paid, bookings=bookings, payments=deps.payments(), audit=deps.audit, clock=_At(now))
    logger.warning("Checkout paid after its booking ended: refunded", extra={"booking_id": booking_id})
    return "booking_paid_late_refunded"


@dataclass(frozen=True)
class _At:
    at: datetime

    def now(self) -> datetime:
        return self.at
