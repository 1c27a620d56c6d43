"""Stripe through the official SDK: the ``Payments`` port (``gpubroker.ports``) as the booking saga and billing use it.

One ``stripe.StripeClient`` per instance (its API key and base address: no module-level ``stripe.api_key``), so the
local server (``STRIPE_API_BASE``, infra/local/stripe_server.py) and the real API never meet in one process.

- Every call that creates something carries the caller's deterministic ``Idempotency-Key`` (``booking:{id}:charge``,
  ``user:{id}:customer``...): a retried step gets Stripe's first answer back instead of a second object. The SDK's
  own network retries (``max_network_retries``) resend the same key.
- A user's customer is created once (key ``user:{id}:customer``, ``metadata.user_id``) and linked both ways in the
  auth table (``DynamoBillingStore.link_user``): Stripe forgets an idempotency key after 24 h, the link does not.
- Errors: a card decline (``CardError``) and any other refusal of the request (4xx) -> ``PaymentDeclined``
  (permanent: the saga compensates); no answer, a timeout, 429 or 5xx -> ``PaymentsUnavailable`` (transient: the saga
  retries with the same key); a refused API key -> ``Unavailable`` (configuration, not the customer's fault).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Final, Protocol, TypeVar
from urllib.parse import urlencode

from gpubroker.domain.errors import PaymentDeclined, PaymentsUnavailable, Unavailable
from gpubroker.domain.money import Money

T = TypeVar("T")

METER_EVENT: Final = "gpu_hours"
PLAN_LOOKUP_KEY: Final = "gpubroker_{plan}_monthly"
TIMEOUT_S: Final = 10.0
PRICE_CACHE_S: Final = 300.0


def plan_lookup_key(plan: str) -> str:
    """The lookup key of a plan's monthly price (``gpubroker_pro_monthly``): infra/stripe_setup.py creates them."""
    return PLAN_LOOKUP_KEY.format(plan=plan)


class CustomerLinks(Protocol):
    """Where a user's Stripe customer is recorded (``DynamoBillingStore``)."""

    def link_user(self, user_id: str, customer_id: str, *, email: str) -> str: ...

    def customer_of(self, user_id: str) -> str | None: ...

    def customer(self, customer_id: str) -> tuple[str, str] | None: ...


def mapped(exc: Exception) -> Exception:
    """The domain error for a Stripe SDK error (see the module docstring); any other exception unchanged."""
    import stripe

    if isinstance(exc, stripe.CardError):
        return PaymentDeclined(f"card declined: {exc.code or 'card_error'}", details={"code": exc.code})
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return PaymentsUnavailable(f"Stripe did not answer: {type(exc).__name__}")
    if isinstance(exc, stripe.AuthenticationError):
        return Unavailable("Stripe refused the API key (check the Stripe secret's api_key)")
    if isinstance(exc, stripe.StripeError):
        status = exc.http_status or 0
        if status >= 500 or status in (0, 408, 409, 429):
            return PaymentsUnavailable(f"Stripe answered {status or 'nothing'}")
        return PaymentDeclined(f"Stripe refused the request: {exc.code or type(exc).__name__} ({status})",
                               details={"code": exc.code, "status": status})  # fmt: skip
    return exc


def _map_errors(fn: Callable[[], T]) -> T:
    import stripe

    try:
        return fn()
    except stripe.StripeError as exc:
        raise mapped(exc) from None


class StripePayments:
    """The ``Payments`` port on Stripe (see the module docstring)."""

    def __init__(self, api_key: str | Callable[[], str], *, links: CustomerLinks, api_base: str = "",
                 return_url: str = "https://gpubroker.invalid", max_network_retries: int = 2,
                 timeout_s: float = TIMEOUT_S) -> None:  # fmt: skip
        self._api_key = api_key
        self._api_base = api_base.rstrip("/")
        self._links = links
        self._return_url = return_url.rstrip("/")
        self._retries = max_network_retries
        self._timeout_s = timeout_s
        self._client: Any = None
        self._client_key = ""
        self._prices: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    @property
    def v1(self) -> Any:
        """The SDK's v1 services, on a client rebuilt when the API key changes (a rotated secret)."""
        import stripe

        key = self._api_key() if callable(self._api_key) else self._api_key
        if not key:
            raise Unavailable("no Stripe API key configured (the Stripe secret's api_key)")
        with self._lock:
            if self._client is None or key != self._client_key:
                options: dict[str, Any] = {}
                if self._api_base:
                    options["base_addresses"] = {"api": self._api_base}
                self._client = stripe.StripeClient(
                    key, max_network_retries=self._retries,
                    http_client=stripe.new_default_http_client(timeout=self._timeout_s), **options)  # fmt: skip
                self._client_key = key
            return self._client.v1

    # -- customers ------------------------------------------------------------------------------------------------

    def customer_for(self, user_id: str, email: str) -> str:
        known = self._links.customer_of(user_id)
        if known:
            return known
        params = {"email": email, "metadata": {"user_id": user_id}}
        customer = _map_errors(lambda: self.v1.customers.create(
            params=params, options={"idempotency_key": f"user:{user_id}:customer"}))  # fmt: skip
        return self._links.link_user(user_id, str(customer.id), email=email)

    def saved_payment_method(self, customer_id: str) -> str | None:
        customer = _map_errors(lambda: self.v1.customers.retrieve(customer_id))
        default = getattr(getattr(customer, "invoice_settings", None), "default_payment_method", None)
        if default:
            return str(default if isinstance(default, str) else default.id)
        methods = _map_errors(lambda: self.v1.payment_methods.list(params={"customer": customer_id, "type": "card"}))
        return str(methods.data[0].id) if methods.data else None

    # -- charges and refunds --------------------------------------------------------------------------------------

    def charge(self, *, customer_id: str, payment_method: str, amount: Money, idempotency_key: str,
               metadata: dict[str, str]) -> str:  # fmt: skip
        params = {
            "amount": amount.amount_minor,
            "currency": amount.currency,
            "customer": customer_id,
            "payment_method": payment_method,
            "confirm": True,
            "off_session": True,
            "metadata": metadata,
        }
        intent = _map_errors(lambda: self.v1.payment_intents.create(
            params=params, options={"idempotency_key": idempotency_key}))  # fmt: skip
        if intent.status not in ("succeeded", "processing"):
            raise PaymentDeclined(f"the payment needs more than an off-session charge: {intent.status}",
                                  details={"payment_intent": intent.id, "status": intent.status})  # fmt: skip
        return str(intent.id)

    def find_charge(self, payment_intent_id: str) -> tuple[str, Money]:
        intent = _map_errors(lambda: self.v1.payment_intents.retrieve(payment_intent_id))
        received = getattr(intent, "amount_received", None)
        if received is None:  # the local server does not write it: a succeeded intent received its amount
            received = intent.amount if intent.status == "succeeded" else 0
        return str(intent.status), Money(int(received), str(intent.currency))

    def _refunds(self, payment_intent_id: str) -> list[Any]:
        listed = _map_errors(lambda: self.v1.refunds.list(params={"payment_intent": payment_intent_id, "limit": 100}))
        return [r for r in listed.data if r.status in ("succeeded", "pending")]

    def refund(self, payment_intent_id: str, amount: Money, *, idempotency_key: str) -> str:
        import stripe

        params = {"payment_intent": payment_intent_id, "amount": amount.amount_minor,
                  "metadata": {"idempotency_key": idempotency_key}}  # fmt: skip
        try:
            refund = self.v1.refunds.create(params=params, options={"idempotency_key": idempotency_key})
            return str(refund.id)
        except stripe.InvalidRequestError as exc:
            if exc.code not in ("charge_already_refunded", "amount_too_large"):
                raise mapped(exc) from None
        except stripe.StripeError as exc:
            raise mapped(exc) from None
        # the charge has less left than asked (a compensation after a partial cancel refund): refund what is left,
        # and when nothing is, answer with the refund that emptied it
        done = self._refunds(payment_intent_id)
        _, charged = self.find_charge(payment_intent_id)
        left = charged.amount_minor - sum(int(r.amount) for r in done)
        if left <= 0:
            if not done:
                raise PaymentDeclined("the payment cannot be refunded")
            return str(done[0].id)  # Stripe lists the newest first
        rest = {**params, "amount": left}
        refund = _map_errors(lambda: self.v1.refunds.create(
            params=rest, options={"idempotency_key": f"{idempotency_key}:rest"}))  # fmt: skip
        return str(refund.id)

    # -- checkout -------------------------------------------------------------------------------------------------

    def _user_of(self, customer_id: str) -> str:
        linked = self._links.customer(customer_id)
        if linked:
            return linked[0]
        customer = _map_errors(lambda: self.v1.customers.retrieve(customer_id))
        return str(getattr(getattr(customer, "metadata", None), "user_id", None) or "")

    def _session(self, params: dict[str, Any], idempotency_key: str, back: dict[str, str]) -> tuple[str, str]:
        """A Checkout Session whose return URLs are the web app's pages (``<APP_URL>/billing/done`` and
        ``/billing/cancelled``), with ``back`` (what was paid for: ``booking_id`` or ``plan``) in their query so
        the page can link to it; Stripe fills in ``{CHECKOUT_SESSION_ID}``."""
        query = urlencode(back)
        params = {"success_url": f"{self._return_url}/billing/done?session_id={{CHECKOUT_SESSION_ID}}&{query}",
                  "cancel_url": f"{self._return_url}/billing/cancelled?{query}", **params}  # fmt: skip
        session = _map_errors(lambda: self.v1.checkout.sessions.create(
            params=params, options={"idempotency_key": idempotency_key}))  # fmt: skip
        return str(session.id), str(session.url)

    def checkout_for_booking(self, *, customer_id: str, amount: Money, description: str, booking_id: str,
                             idempotency_key: str) -> tuple[str, str]:  # fmt: skip
        metadata = {"booking_id": booking_id, "user_id": self._user_of(customer_id)}
        return self._session({
            "mode": "payment", "customer": customer_id, "metadata": metadata,
            "line_items": [{"quantity": 1, "price_data": {
                "currency": amount.currency, "unit_amount": amount.amount_minor,
                "product_data": {"name": description[:250] or booking_id}}}],
            "payment_intent_data": {"setup_future_usage": "off_session", "metadata": metadata},
        }, idempotency_key, {"booking_id": booking_id})  # fmt: skip

    def expire_checkout(self, session_id: str) -> str:
        """Close an open Checkout Session so it can no longer be paid (the saga's payment timeout); its status after
        (``expired``, or ``complete`` when the payer was first: then the caller must refund or keep the payment)."""
        import stripe

        try:
            session = self.v1.checkout.sessions.expire(session_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status != 400:
                raise mapped(exc) from None
            session = _map_errors(lambda: self.v1.checkout.sessions.retrieve(session_id))
        except stripe.StripeError as exc:
            raise mapped(exc) from None
        return str(session.status)

    def plan_price(self, plan: str) -> str:
        """The id of a plan's active monthly price, found by its lookup key (cached for 5 minutes)."""
        key = plan_lookup_key(plan)
        cached = self._prices.get(key)
        if cached and time.monotonic() - cached[0] < PRICE_CACHE_S:
            return cached[1]
        listed = _map_errors(lambda: self.v1.prices.list(params={"lookup_keys": [key], "active": True}))
        if not listed.data:
            raise Unavailable(f"no Stripe price with lookup key {key} (run `make stripe-setup`)")
        price_id = str(listed.data[0].id)
        self._prices[key] = (time.monotonic(), price_id)
        return price_id

    def checkout_for_plan(self, *, customer_id: str, plan: str, user_id: str, idempotency_key: str) -> tuple[str, str]:
        metadata = {"user_id": user_id, "plan": plan}
        return self._session({
            "mode": "subscription", "customer": customer_id, "metadata": metadata,
            "line_items": [{"price": self.plan_price(plan), "quantity": 1}],
            "subscription_data": {"metadata": metadata},
        }, idempotency_key, {"plan": plan})  # fmt: skip

    # -- metering -------------------------------------------------------------------------------------------------

    def meter_usage(self, *, customer_id: str, gpu_hours: int, identifier: str) -> str:
        import stripe

        params = {"event_name": METER_EVENT, "identifier": identifier,
                  "payload": {"stripe_customer_id": customer_id, "value": str(gpu_hours)}}  # fmt: skip
        try:
            self.v1.billing.meter_events.create(params=params, options={"idempotency_key": f"meter:{identifier}"})
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":
                raise Unavailable(f"no Stripe meter for {METER_EVENT} (run `make stripe-setup`)") from None
            # Stripe refuses an identifier it has seen (within 24 h at least): that event was counted already
            if "identifier" not in (exc.user_message or str(exc)).lower():
                raise mapped(exc) from None
        except stripe.StripeError as exc:
            raise mapped(exc) from None
        return identifier
