"""The local Stripe-compatible server (``make dev``, the integration tests): ``localstripe`` extended in process.

localstripe (an aiohttp app) answers customers, payment methods, confirmed off-session PaymentIntents, refunds and
subscriptions as Stripe does, stateful in memory. What it lacks is added here, to its own application, before it
starts (docs/decisions.md, "Local Stripe server and payments"):

- **Idempotency** (a middleware): a POST with an ``Idempotency-Key`` replays the first answer (status and body,
  header ``Idempotent-Replayed: true``) for the same key and API key; a concurrent duplicate waits for the first to
  finish; the same key with other parameters is a 400 ``idempotency_error``, as Stripe answers. 5xx answers are not
  kept (Stripe keeps none either), so a retry after a fault runs the request.
- **Products and Prices** (``/v1/prices``: create, retrieve, list with ``lookup_keys[]``, ``active``, ``product``,
  ``type``); a recurring price is mirrored as a localstripe Plan of the same id, so subscriptions use it.
- **Checkout Sessions** (``/v1/checkout/sessions``, modes payment, subscription and setup) and their local pay
  page (``GET``/``POST /checkout/pay/<id>``): paying attaches a test card (``pm_card_visa``, or the form's
  ``payment_method``) to the customer as its default, then a succeeded PaymentIntent (payment), a subscription
  (subscription) or nothing more (setup), and posts ``checkout.session.completed`` (localstripe posts
  ``payment_intent.succeeded``, ``customer.subscription.created`` and the invoice events itself). As on Stripe's
  hosted page, a browser that paid is redirected (303) to the session's ``success_url`` and an open session's page
  links to its ``cancel_url``; a JSON client (``Accept: application/json``) gets the session instead.
- **Billing meters** (``/v1/billing/meters``) and **meter events** (``/v1/billing/meter_events``, deduplicated by
  ``identifier``), their totals at ``GET /v1/billing/meters/<id>/event_summaries`` and ``GET /_local/meter_totals``.
- **Webhook endpoints** (``--webhook URL --webhook-secret whsec_...``, or ``POST /v1/webhook_endpoints`` with
  ``url``, ``enabled_events[]`` and, a local extension, ``secret``). Every event (localstripe's too) is posted to
  each endpoint signed exactly as Stripe signs (``Stripe-Signature: t=<unix>,v1=<HMAC-SHA256 of "<t>.<body>">``),
  retried 3 times; ``GET /_local/webhook_deliveries`` lists what was posted and the answers.
- **Fault injection** (``POST /_local/faults`` ``{"path_prefix", "method"?, "status"?, "delay_ms"?, "times"}``: the
  next ``times`` matching requests wait ``delay_ms`` and/or fail with ``status``; ``DELETE /_local/faults``).

localstripe's pickle file (``/tmp/localstripe.pickle``, written on every change) is switched off: each server
keeps its state in memory, so two servers (two test workers, ``make dev``) never share or race on one file.

Run: ``python -m infra.local.stripe_server --host 127.0.0.1 --port 8420 [--webhook URL --webhook-secret S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import html
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
from aiohttp import web
from localstripe import resources as ls
from localstripe import server as ls_server
from localstripe.errors import UserError

log = logging.getLogger("stripe_server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_PATHS: Final = ("/_local/", "/checkout/pay/", "/_config/", "/js.stripe.com/")
"""Paths without an API key: the test controls, the pay page (a browser's) and localstripe's own."""
DEFAULT_CARD: Final = "pm_card_visa"


def _error(status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": {"type": type_, "message": message}}
    if code:
        body["error"]["code"] = code
    return web.json_response(body, status=status)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda x: json.dumps(x, sort_keys=True))


# -- faults -------------------------------------------------------------------------------------------------------


@dataclass
class Fault:
    path_prefix: str
    times: int
    status: int | None = None
    delay_ms: int = 0
    method: str | None = None

    def matches(self, request: web.Request) -> bool:
        return (self.times > 0 and request.path.startswith(self.path_prefix)
                and (self.method is None or self.method.upper() == request.method))  # fmt: skip


@dataclass
class Idem:
    fingerprint: str
    done: asyncio.Event = field(default_factory=asyncio.Event)
    status: int = 0
    body: bytes = b""
    content_type: str = "application/json"


@dataclass
class Endpoint:
    id: str
    url: str
    secret: str
    events: list[str] | None  # None: every event


class State:
    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.idempotency: dict[tuple[str, str], Idem] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.meter_events: dict[str, dict[str, Any]] = {}  # identifier -> event
        self.tasks: set[asyncio.Task[None]] = set()


STATE = State()


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/_local/"):
        for fault in STATE.faults:
            if fault.matches(request):
                fault.times -= 1
                if fault.delay_ms:
                    await asyncio.sleep(fault.delay_ms / 1000)
                if fault.status:
                    return _error(fault.status, f"injected fault ({fault.status})", type_="api_error")
                break
    return await handler(request)


def _api_key(request: web.Request) -> str:
    return ls_server.get_api_key(request) or ""


def _plain(value: Any) -> Any:
    if hasattr(value, "keys"):
        return {str(k): _plain(value[k]) for k in value.keys()}  # noqa: SIM118 - a MultiDict too
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@web.middleware
async def idempotency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or request.path.startswith(OPEN_PATHS):
        return await handler(request)
    # the parameters, not the bytes (as Stripe compares them): another encoding of the same request is the same
    params = await ls_server.get_post_data(request, remove_auth=False)
    canonical = json.dumps(_plain(params), sort_keys=True, default=str)
    fingerprint = hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()
    slot = (_api_key(request), key)
    while True:
        entry = STATE.idempotency.get(slot)
        if entry is None:
            break
        if entry.fingerprint != fingerprint:
            return _error(
                400,
                f"Keys for idempotent requests can only be used with the same parameters they were "
                f"first used with. Try using a key other than '{key}'.",
                type_="idempotency_error",
            )
        await entry.done.wait()
        if STATE.idempotency.get(slot) is entry:  # kept: replay it
            replay = web.Response(status=entry.status, body=entry.body, content_type=entry.content_type)
            replay.headers["Idempotent-Replayed"] = "true"
            replay.headers["Idempotency-Key"] = key
            return replay
        # the first one was not kept (5xx, or it raised): this one runs it
    entry = Idem(fingerprint)
    STATE.idempotency[slot] = entry
    try:
        response = await handler(request)
    except BaseException:
        del STATE.idempotency[slot]
        entry.done.set()
        raise
    if isinstance(response, web.Response) and response.status < 500:
        entry.status, entry.body = response.status, bytes(response.body or b"")  # type: ignore[arg-type]
        entry.content_type = response.content_type
    else:
        del STATE.idempotency[slot]
    entry.done.set()
    response.headers["Idempotency-Key"] = key
    return response


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """localstripe's API-key check, except for the open paths."""
    if request.path.startswith(OPEN_PATHS):
        return await handler(request)
    result: web.StreamResponse = await ls_server.auth_middleware(request, handler)
    return result


# -- webhooks -----------------------------------------------------------------------------------------------------


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header Stripe sends: ``t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<payload>">``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


async def deliver(event: Any) -> None:
    """Post one event to every endpoint that wants it (3 attempts each), recording each answer."""
    payload = json.dumps(event._export(), sort_keys=True).encode()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for endpoint in list(STATE.endpoints.values()):
            if endpoint.events is not None and event.type not in endpoint.events and "*" not in endpoint.events:
                continue
            status: int | str = "not sent"
            for attempt in range(3):
                headers = {"Content-Type": "application/json; charset=utf-8",
                           "Stripe-Signature": sign(payload, endpoint.secret, int(time.time()))}  # fmt: skip
                try:
                    async with session.post(endpoint.url, data=payload, headers=headers) as answer:
                        status = answer.status
                        await answer.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status = f"error: {exc!r}"
                if isinstance(status, int) and 200 <= status < 300:
                    break
                await asyncio.sleep(0.2 * 2**attempt)
            STATE.deliveries.append({"event": event.id, "type": event.type, "endpoint": endpoint.id,
                                     "url": endpoint.url, "status": status})  # fmt: skip
            log.info("webhook %s %s -> %s: %s", event.type, event.id, endpoint.url, status)


def schedule_webhook(event: Any) -> None:
    """localstripe's hook, replaced: every event it raises goes through :func:`deliver` (signed, retried). Stripe
    sends ``invoice.paid`` beside ``invoice.payment_succeeded``; localstripe only the latter, so it is added."""
    task = asyncio.ensure_future(deliver(event))
    STATE.tasks.add(task)
    task.add_done_callback(STATE.tasks.discard)
    if event.type == "invoice.payment_succeeded":
        paid = ls.Event("invoice.paid", _Exported(event.data["object"]))
        schedule_webhook(paid)


class _Exported:
    """An already exported object, as localstripe's ``Event`` wants something with ``_export``."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def _export(self, expand: Any = None) -> dict[str, Any]:
        return dict(self._data)


def add_endpoint(url: str, secret: str | None = None, events: list[str] | None = None) -> Endpoint:
    endpoint = Endpoint(id="we_" + secrets.token_hex(8), url=url, secret=secret or "whsec_" + secrets.token_hex(16),
                        events=None if not events or "*" in events else list(events))  # fmt: skip
    STATE.endpoints[endpoint.id] = endpoint
    return endpoint


def _endpoint_json(endpoint: Endpoint, *, with_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": endpoint.id, "object": "webhook_endpoint", "url": endpoint.url, "status": "enabled",
                           "enabled_events": endpoint.events or ["*"], "livemode": False}  # fmt: skip
    if with_secret:
        out["secret"] = endpoint.secret
    return out


async def create_webhook_endpoint(request: web.Request) -> web.Response:
    data = await ls_server.get_post_data(request) or {}
    url = data.get("url")
    if not isinstance(url, str) or not url.startswith("http"):
        return _error(400, "Missing required param: url.")
    events = data.get("enabled_events") or ["*"]
    if isinstance(events, str):
        events = [events]
    endpoint = add_endpoint(url, data.get("secret"), events)
    return _json(_endpoint_json(endpoint, with_secret=True))


async def list_webhook_endpoints(request: web.Request) -> web.Response:
    data = [_endpoint_json(e) for e in STATE.endpoints.values()]
    return _json({"object": "list", "url": "/v1/webhook_endpoints", "has_more": False, "data": data})


async def delete_webhook_endpoint(request: web.Request) -> web.Response:
    endpoint = STATE.endpoints.pop(request.match_info["id"], None)
    if endpoint is None:
        return _error(404, "No such webhook endpoint")
    return _json({"id": endpoint.id, "object": "webhook_endpoint", "deleted": True})


# -- prices -------------------------------------------------------------------------------------------------------


def _int(value: Any, name: str, *, minimum: int = 0) -> int:
    converted = ls.try_convert_to_int(value)
    if not isinstance(converted, int) or converted < minimum:
        raise UserError(400, f"Invalid {name}: an integer >= {minimum}", {"param": name})
    return converted


class Price(ls.StripeObject):  # type: ignore[misc]
    object = "price"
    _id_prefix = "price_"
    lookup_key: str | None

    def __init__(self, currency: Any = None, unit_amount: Any = None, product: Any = None, product_data: Any = None,
                 recurring: Any = None, lookup_key: Any = None, transfer_lookup_key: Any = None, metadata: Any = None,
                 nickname: Any = None, active: Any = True, **kwargs: Any) -> None:  # fmt: skip
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs))
        if not isinstance(currency, str) or len(currency) != 3:
            raise UserError(400, "Missing required param: currency.", {"param": "currency"})
        amount = _int(unit_amount, "unit_amount")
        if product is None and isinstance(product_data, dict):
            product = ls.Product(name=product_data.get("name") or "product", metadata=product_data.get("metadata")).id
        if not isinstance(product, str):
            raise UserError(400, "Missing required param: product.", {"param": "product"})
        ls.Product._api_retrieve(product)  # 404 when unknown
        if recurring is not None:
            if not isinstance(recurring, dict) or recurring.get("interval") not in ("day", "week", "month", "year"):
                raise UserError(400, "Invalid recurring.interval", {"param": "recurring[interval]"})
            recurring = {
                "interval": recurring["interval"],
                "usage_type": "licensed",
                "interval_count": _int(recurring.get("interval_count", 1), "interval_count", minimum=1),
            }
        if lookup_key is not None:
            if not isinstance(lookup_key, str) or not lookup_key:
                raise UserError(400, "Invalid lookup_key", {"param": "lookup_key"})
            holder = _price_by_lookup_key(lookup_key)
            if holder is not None:
                if ls.try_convert_to_bool(transfer_lookup_key) is not True:
                    raise UserError(400, f"A price (`{holder.id}`) already uses that lookup key.",
                                    {"param": "lookup_key", "code": "lookup_key_in_use"})  # fmt: skip
                holder.lookup_key = None
        super().__init__()
        self.currency = currency.lower()
        self.unit_amount = amount
        self.unit_amount_decimal = str(amount)
        self.product = product
        self.recurring = recurring
        self.type = "recurring" if recurring else "one_time"
        self.lookup_key = lookup_key
        self.metadata = metadata or {}
        self.nickname = nickname
        self.active = ls.try_convert_to_bool(active) is not False
        self.billing_scheme = "per_unit"
        if recurring:  # localstripe's subscriptions take Plans: the same id, amount and interval
            ls.Plan(id=self.id, amount=amount, currency=self.currency, interval=recurring["interval"],
                    interval_count=recurring["interval_count"], product=product)  # fmt: skip

    @classmethod
    def _api_list_all(cls, url: str, limit: Any = None, starting_after: Any = None, lookup_keys: Any = None,
                      active: Any = None, product: Any = None, type: Any = None, **kwargs: Any) -> Any:  # fmt: skip
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs))
        li = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        if lookup_keys is not None:
            keys = [lookup_keys] if isinstance(lookup_keys, str) else list(lookup_keys)
            li._list = [p for p in li._list if p.lookup_key in keys]
        if active is not None:
            li._list = [p for p in li._list if p.active == (ls.try_convert_to_bool(active) is True)]
        if product is not None:
            li._list = [p for p in li._list if p.product == product]
        if type is not None:
            li._list = [p for p in li._list if p.type == type]
        return li


def _price_by_lookup_key(key: str) -> Price | None:
    return next((v for k, v in ls.store.items() if k.startswith("price:") and v.lookup_key == key), None)


# -- checkout sessions --------------------------------------------------------------------------------------------


class CheckoutSession(ls.StripeObject):  # type: ignore[misc]
    object = "checkout.session"
    _id_prefix = "cs_test_"

    def __init__(self, mode: Any = None, line_items: Any = None, customer: Any = None, customer_email: Any = None,
                 metadata: Any = None, success_url: Any = None, cancel_url: Any = None, currency: Any = None,
                 payment_intent_data: Any = None, subscription_data: Any = None, setup_intent_data: Any = None,
                 client_reference_id: Any = None, payment_method_types: Any = None, expires_at: Any = None,
                 _base_url: str = "", **kwargs: Any) -> None:  # fmt: skip
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs))
        if mode not in ("payment", "subscription", "setup"):
            raise UserError(400, "Invalid mode: payment, subscription or setup", {"param": "mode"})
        if customer is not None:
            ls.Customer._api_retrieve(customer)
        items = self._items(line_items or [], mode)
        if mode != "setup" and not items:
            raise UserError(400, "line_items is required in payment and subscription mode", {"param": "line_items"})
        currencies = {i["currency"] for i in items} | ({currency.lower()} if isinstance(currency, str) else set())
        if len(currencies) > 1:
            raise UserError(400, "All line items must have the same currency", {"param": "line_items"})
        super().__init__()
        self.mode = mode
        self.customer = customer
        self.customer_email = customer_email
        self.metadata = metadata or {}
        self.success_url = success_url
        self.cancel_url = cancel_url
        self.client_reference_id = client_reference_id
        self.currency = next(iter(currencies), None)
        self.amount_subtotal = self.amount_total = sum(i["amount_total"] for i in items)
        self.status = "open"
        self.payment_status = "no_payment_required" if mode == "setup" else "unpaid"
        self.payment_intent = None
        self.subscription = None
        self.setup_intent = None
        self.expires_at = ls.try_convert_to_int(expires_at) or self.created + 24 * 3600
        self.url = f"{_base_url}/checkout/pay/{self.id}"
        self._items_data = items
        self._payment_intent_data = payment_intent_data or {}
        self._subscription_data = subscription_data or {}
        self._setup_intent_data = setup_intent_data or {}
        self._payment_method_types = payment_method_types or ["card"]

    @staticmethod
    def _items(line_items: Any, mode: str) -> list[dict[str, Any]]:
        if not isinstance(line_items, list):
            raise UserError(400, "Invalid line_items", {"param": "line_items"})
        out = []
        for n, item in enumerate(line_items):
            if not isinstance(item, dict):
                raise UserError(400, "Invalid line_items", {"param": f"line_items[{n}]"})
            quantity = _int(item.get("quantity", 1), f"line_items[{n}][quantity]", minimum=1)
            if isinstance(item.get("price"), str):
                price = Price._api_retrieve(item["price"])
            elif isinstance(item.get("price_data"), dict):
                data = dict(item["price_data"])
                price = Price(
                    **{
                        k: v
                        for k, v in data.items()
                        if k in ("currency", "unit_amount", "product", "product_data", "recurring", "metadata")
                    }
                )
            else:
                raise UserError(400, "Each line item needs price or price_data", {"param": f"line_items[{n}]"})
            if (mode == "subscription") != (price.type == "recurring") and mode == "subscription":
                raise UserError(400, "Subscription mode needs a recurring price", {"param": f"line_items[{n}]"})
            out.append(
                {
                    "price": price.id,
                    "quantity": quantity,
                    "currency": price.currency,
                    "amount_total": price.unit_amount * quantity,
                    "recurring": price.recurring is not None,
                }
            )
        return out

    @property
    def line_items(self) -> dict[str, Any]:
        data = [{"object": "item", "price": i["price"], "quantity": i["quantity"], "currency": i["currency"],
                 "amount_total": i["amount_total"]} for i in self._items_data]  # fmt: skip
        return {"object": "list", "data": data, "has_more": False, "url": f"/v1/checkout/sessions/{self.id}/line_items"}

    def _complete(self, payment_method: str) -> None:
        """Pay as the customer: the card is attached, then charged (payment: it becomes the customer's default only
        once the charge succeeded, as Checkout saves a card) or made the default and subscribed (subscription:
        localstripe bills the default). A decline raises localstripe's 402 and leaves the session open."""
        if self.customer is None:
            self.customer = ls.Customer(email=self.customer_email).id
        pm = ls.PaymentMethod._api_retrieve(payment_method)
        ls.PaymentMethod._api_attach(pm.id, customer=self.customer)
        customer = ls.Customer._api_retrieve(self.customer)
        if self.mode == "payment":
            pi_data = self._payment_intent_data
            intent = ls.PaymentIntent._api_create(
                amount=self.amount_total, currency=self.currency, customer=self.customer, payment_method=pm.id,
                metadata={**self.metadata, **(pi_data.get("metadata") or {})}, confirm=True)  # fmt: skip
            self.payment_intent = intent.id
            self.payment_status = "paid"
        customer.invoice_settings["default_payment_method"] = pm.id
        if self.mode == "subscription":
            prices = [i for i in self._items_data if i["recurring"]]
            item = {"plan": prices[0]["price"], "quantity": prices[0]["quantity"]}
            sub = ls.Subscription(
                customer=self.customer,
                items=[item],
                metadata={**self.metadata, **(self._subscription_data.get("metadata") or {})},
            )
            if sub.status not in ("active", "trialing"):
                raise UserError(402, "Your card was declined.", {"code": "card_declined"})
            self.subscription = sub.id
            self.payment_status = "paid" if self.amount_total else "no_payment_required"
        self.status = "complete"


def _refund_create(cls: Any, /, **data: Any) -> Any:
    """localstripe refunds a charge again and again: Stripe refuses more than is left (``amount_too_large``) or a
    refund of an emptied charge (``charge_already_refunded``), and an amount-less refund takes what is left."""
    if isinstance(data.get("payment_intent"), str):
        intent = ls.PaymentIntent._api_retrieve(data["payment_intent"])
        charge = intent.latest_charge
        if charge is None:
            raise UserError(400, "This PaymentIntent has no charge to refund.", {"code": "charge_missing"})
    elif isinstance(data.get("charge"), str):
        charge = ls.Charge._api_retrieve(data["charge"])
    else:
        raise UserError(400, "Expected charge or payment_intent")
    already = sum(r.amount for k, r in ls.store.items() if k.startswith("refund:") and r.charge == charge.id)
    left = charge.amount - already
    if left <= 0:
        raise UserError(400, f"Charge {charge.id} has already been refunded.", {"code": "charge_already_refunded"})
    amount = ls.try_convert_to_int(data.get("amount")) if data.get("amount") is not None else left
    if isinstance(amount, int) and amount > left:
        raise UserError(400, f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                        {"code": "amount_too_large", "param": "amount"})  # fmt: skip
    refund = cls(**{**data, "amount": amount})
    schedule_webhook(ls.Event("charge.refunded", charge))
    return refund


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def create_checkout_session(request: web.Request) -> web.Response:
    data = await ls_server.get_post_data(request) or {}
    expand = data.pop("expand", None)
    session = CheckoutSession(_base_url=_base_url(request), **data)
    return _json(session._export(expand=expand))


def retrieve_checkout_session(request: web.Request) -> web.Response:
    data = ls_server.unflatten_data(request.query)
    session = CheckoutSession._api_retrieve(request.match_info["id"])
    return _json(session._export(expand=data.pop("expand", None)))


def list_checkout_sessions(request: web.Request) -> web.Response:
    data = ls_server.unflatten_data(request.query)
    li = CheckoutSession._api_list_all("/v1/checkout/sessions", limit=data.get("limit"))
    return _json(li._export())


async def expire_checkout_session(request: web.Request) -> web.Response:
    """``POST /v1/checkout/sessions/<id>/expire`` (Stripe's API): an open session can no longer be paid; posts
    ``checkout.session.expired``. Expiring a session that is not open is a 400, as Stripe answers."""
    session = CheckoutSession._api_retrieve(request.match_info["id"])
    if session.status != "open":
        raise UserError(400, f"Only Checkout Sessions with a status of open can be expired (it is {session.status}).")
    session.status = "expired"
    schedule_webhook(ls.Event("checkout.session.expired", session))
    return _json(session._export())


# no favicon request (the server would refuse it: 401 without an API key), as a browser test watches every request
PAGE: Final = """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>GPUBroker test checkout</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:3em auto"><h1>Test checkout</h1>
<p>Session <code>{id}</code>: {mode}, {amount} {currency}. Status: <b>{status}</b>.</p>{form}
<p><small>The local Stripe-compatible server: no real card is charged.</small></p></body></html>"""


def _page(session: CheckoutSession, message: str = "") -> str:
    form = ("" if session.status != "open" else
            f'<form method="post" action="/checkout/pay/{session.id}"><select name="payment_method" '
            'aria-label="Test card"><option value="pm_card_visa">Visa 4242 (succeeds)</option>'
            '<option value="pm_card_chargeCustomerFail">Visa 0341 (declined)</option></select> '
            '<button type="submit">Pay</button></form>')  # fmt: skip
    if session.status == "open" and session.cancel_url:  # Stripe's back link: nothing is charged
        form += f'<p><a href="{html.escape(session.cancel_url)}">Cancel and go back to GPUBroker</a></p>'
    if session.status == "complete" and session.success_url:
        back = session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id)
        form = f'<p><a href="{html.escape(back)}">Back to GPUBroker</a></p>'
    return PAGE.format(id=html.escape(session.id), mode=session.mode, amount=session.amount_total,
                       currency=html.escape(str(session.currency)), status=session.status,
                       form=(f"<p>{html.escape(message)}</p>" if message else "") + form)  # fmt: skip


async def pay_page(request: web.Request) -> web.Response:
    session = CheckoutSession._api_retrieve(request.match_info["id"])
    return web.Response(text=_page(session), content_type="text/html")


async def pay(request: web.Request) -> web.Response:
    """Complete a session as a paying customer would, then deliver ``checkout.session.completed`` (awaited, so the
    answer comes once every endpoint was posted to). JSON clients (tests) get the session as JSON."""
    session = CheckoutSession._api_retrieve(request.match_info["id"])
    form = await request.post()
    card = str(form.get("payment_method") or request.query.get("payment_method") or DEFAULT_CARD)
    wants_json = "application/json" in request.headers.get("Accept", "")
    if session.status == "open":
        try:
            session._complete(card)
        except UserError as exc:
            if wants_json:
                return exc.to_response()  # type: ignore[no-any-return]
            message = exc.body["error"].get("message", "declined")
            return web.Response(text=_page(session, f"Payment failed: {message}"), content_type="text/html",
                                status=exc.code)  # fmt: skip
        await deliver(ls.Event("checkout.session.completed", session))
    if wants_json:
        return _json(session._export())
    if session.status == "complete" and session.success_url:  # as Stripe does: back to the app's return page
        raise web.HTTPSeeOther(session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id))
    return web.Response(text=_page(session, "Paid."), content_type="text/html")


# -- billing meters -----------------------------------------------------------------------------------------------


class Meter(ls.StripeObject):  # type: ignore[misc]
    object = "billing.meter"
    _id_prefix = "mtr_test_"

    def __init__(self, display_name: Any = None, event_name: Any = None, default_aggregation: Any = None,
                 customer_mapping: Any = None, value_settings: Any = None, event_time_window: Any = None,
                 **kwargs: Any) -> None:  # fmt: skip
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs))
        if not isinstance(display_name, str) or not isinstance(event_name, str) or not event_name:
            raise UserError(400, "display_name and event_name are required", {"param": "event_name"})
        if _meter_for(event_name) is not None:
            raise UserError(400, f"A meter with event_name {event_name} already exists", {"param": "event_name"})
        formula = (default_aggregation or {}).get("formula", "sum")
        if formula not in ("sum", "count", "last"):
            raise UserError(400, "Invalid default_aggregation[formula]", {"param": "default_aggregation[formula]"})
        super().__init__()
        self.display_name = display_name
        self.event_name = event_name
        self.default_aggregation = {"formula": formula}
        self.customer_mapping = customer_mapping or {"event_payload_key": "stripe_customer_id", "type": "by_id"}
        self.value_settings = value_settings or {"event_payload_key": "value"}
        self.event_time_window = event_time_window
        self.status = "active"

    def _total(self, customer: str | None = None) -> float:
        key, value_key = self.customer_mapping["event_payload_key"], self.value_settings["event_payload_key"]
        events = [e for e in STATE.meter_events.values() if e["event_name"] == self.event_name
                  and (customer is None or e["payload"].get(key) == customer)]  # fmt: skip
        if self.default_aggregation["formula"] == "count":
            return len(events)
        values = [float(e["payload"].get(value_key, 0)) for e in events]
        if self.default_aggregation["formula"] == "last":
            return values[-1] if values else 0
        return sum(values)


def _meter_for(event_name: str) -> Meter | None:
    return next((v for k, v in ls.store.items() if k.startswith("billing.meter:") and v.event_name == event_name),
                None)  # fmt: skip


async def create_meter(request: web.Request) -> web.Response:
    data = await ls_server.get_post_data(request) or {}
    return _json(Meter(**data)._export())


def list_meters(request: web.Request) -> web.Response:
    data = ls_server.unflatten_data(request.query)
    li = Meter._api_list_all("/v1/billing/meters", limit=data.get("limit"), starting_after=data.get("starting_after"))
    if data.get("status"):
        li._list = [m for m in li._list if m.status == data["status"]]
    return _json(li._export())


def retrieve_meter(request: web.Request) -> web.Response:
    return _json(Meter._api_retrieve(request.match_info["id"])._export())


async def create_meter_event(request: web.Request) -> web.Response:
    data = await ls_server.get_post_data(request) or {}
    event_name, payload = data.get("event_name"), data.get("payload")
    if not isinstance(event_name, str) or not isinstance(payload, dict):
        return _error(400, "event_name and payload are required")
    meter = _meter_for(event_name)
    if meter is None:
        return _error(400, f"No active meter was found matching event_name {event_name}", code="resource_missing")
    if payload.get(meter.customer_mapping["event_payload_key"]) is None:
        return _error(400, "The payload has no customer", code="parameter_missing")
    try:
        float(payload.get(meter.value_settings["event_payload_key"], 0))
    except (TypeError, ValueError):
        return _error(400, "The payload's value is not a number", code="parameter_invalid_integer")
    identifier = data.get("identifier") or "mev_" + secrets.token_hex(12)
    existing = STATE.meter_events.get(identifier)
    if existing is not None:  # counted once (Stripe enforces identifier uniqueness over at least 24 h)
        return _json(existing)
    event = {
        "object": "billing.meter_event",
        "event_name": event_name,
        "identifier": identifier,
        "payload": {k: str(v) for k, v in payload.items()},
        "created": int(time.time()),
        "timestamp": ls.try_convert_to_int(data.get("timestamp")) or int(time.time()),
        "livemode": False,
    }
    STATE.meter_events[identifier] = event
    return _json(event)


def event_summaries(request: web.Request) -> web.Response:
    meter = Meter._api_retrieve(request.match_info["id"])
    customer = request.query.get("customer")
    summary = {"object": "billing.meter_event_summary", "id": f"mtrusg_{meter.id}", "meter": meter.id,
               "aggregated_value": meter._total(customer), "livemode": False,
               "start_time": ls.try_convert_to_int(request.query.get("start_time", 0)),
               "end_time": ls.try_convert_to_int(request.query.get("end_time", int(time.time()) + 1))}  # fmt: skip
    return _json({"object": "list", "data": [summary], "has_more": False,
                  "url": f"/v1/billing/meters/{meter.id}/event_summaries"})  # fmt: skip


def meter_totals(request: web.Request) -> web.Response:
    """``{event_name: {customer: total}}`` over every meter event received (a test's view)."""
    out: dict[str, dict[str, float]] = {}
    for event in STATE.meter_events.values():
        meter = _meter_for(event["event_name"])
        if meter is None:
            continue
        customer = event["payload"].get(meter.customer_mapping["event_payload_key"], "")
        out.setdefault(event["event_name"], {})[customer] = meter._total(customer)
    return _json(out)


# -- test controls ------------------------------------------------------------------------------------------------


async def add_fault(request: web.Request) -> web.Response:
    try:
        data = await request.json()
        fault = Fault(path_prefix=str(data["path_prefix"]), times=int(data.get("times", 1)),
                      status=int(data["status"]) if data.get("status") else None,
                      delay_ms=int(data.get("delay_ms", 0)), method=data.get("method"))  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        return _error(400, f"bad fault: {exc!r}")
    STATE.faults.append(fault)
    return _json({"faults": len(STATE.faults)}, status=201)


def clear_faults(request: web.Request) -> web.Response:
    STATE.faults.clear()
    return _json({"faults": 0})


def deliveries(request: web.Request) -> web.Response:
    return _json({"deliveries": STATE.deliveries, "pending": len(STATE.tasks)})


def health(request: web.Request) -> web.Response:
    return _json({"ok": True, "endpoints": len(STATE.endpoints)})


def _user_errors(func: Callable[[web.Request], Any]) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            result = func(request)
            if asyncio.iscoroutine(result):
                result = await result
        except UserError as exc:
            return exc.to_response()  # type: ignore[no-any-return]
        return result  # type: ignore[no-any-return]

    return handle


def build_app() -> web.Application:
    """localstripe's application with the additions above (once per process: localstripe's app is a module global)."""
    ls.store.dump_to_disk = lambda: None  # in memory only (see the module docstring)
    ls.schedule_webhook = schedule_webhook  # the name localstripe's resources call
    ls.Refund._api_create = classmethod(_refund_create)
    app: web.Application = ls_server.app
    middlewares = [m for m in app.middlewares if m is not ls_server.save_store_middleware]
    middlewares = [auth_middleware if m is ls_server.auth_middleware else m for m in middlewares]
    app._middlewares = type(app.middlewares)([fault_middleware, idempotency_middleware, *middlewares])
    r = app.router
    routes: list[tuple[str, str, Callable[[web.Request], Any]]] = [
        ("POST", "/v1/prices", ls_server.api_create(Price, "/v1/prices")),
        ("GET", "/v1/prices/{id}", ls_server.api_retrieve(Price, "/v1/prices/{id}")),
        ("POST", "/v1/prices/{id}", ls_server.api_update(Price, "/v1/prices/{id}")),
        ("GET", "/v1/prices", ls_server.api_list_all(Price, "/v1/prices")),
        ("POST", "/v1/checkout/sessions", create_checkout_session),
        ("GET", "/v1/checkout/sessions", list_checkout_sessions),
        ("GET", "/v1/checkout/sessions/{id}", retrieve_checkout_session),
        ("POST", "/v1/checkout/sessions/{id}/expire", expire_checkout_session),
        ("GET", "/checkout/pay/{id}", pay_page),
        ("POST", "/checkout/pay/{id}", pay),
        ("POST", "/v1/billing/meters", create_meter),
        ("GET", "/v1/billing/meters", list_meters),
        ("GET", "/v1/billing/meters/{id}", retrieve_meter),
        ("GET", "/v1/billing/meters/{id}/event_summaries", event_summaries),
        ("POST", "/v1/billing/meter_events", create_meter_event),
        ("POST", "/v1/webhook_endpoints", create_webhook_endpoint),
        ("GET", "/v1/webhook_endpoints", list_webhook_endpoints),
        ("DELETE", "/v1/webhook_endpoints/{id}", delete_webhook_endpoint),
        ("POST", "/_local/faults", add_fault),
        ("DELETE", "/_local/faults", clear_faults),
        ("GET", "/_local/meter_totals", meter_totals),
        ("GET", "/_local/webhook_deliveries", deliveries),
        ("GET", "/_local/health", health),
    ]
    for method, path, func in routes:
        r.add_route(method, path, _user_errors(func))
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The local Stripe-compatible server (localstripe, extended)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--webhook", action="append", default=[], help="an endpoint URL every event is posted to")
    parser.add_argument("--webhook-secret", action="append", default=[], help="its signing secret (whsec_...)")
    parser.add_argument("--webhook-events", default="*", help="comma-separated event types the --webhook endpoints get")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)
    if len(args.webhook_secret) not in (0, len(args.webhook)):
        parser.error("give one --webhook-secret per --webhook (or none: generated)")
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="stripe: %(message)s")
    app = build_app()
    for n, url in enumerate(args.webhook):
        add_endpoint(url, args.webhook_secret[n] if args.webhook_secret else None, args.webhook_events.split(","))
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None if args.quiet else log)


if __name__ == "__main__":
    main()
