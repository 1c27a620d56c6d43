"""POST /billing/webhook with real API Gateway events, signatures made as Stripe makes them and in-memory ports:
one test per outcome (applied, duplicate, superseded, user unknown, payment failure recorded, received, ignored)
and per refusal (missing, forged, stale, tampered, no secret configured, not an event: 400, nothing written), each
with its audit entry. On DynamoDB (moto): tests/integration/test_billing_webhook_dynamo.py."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from gpubroker.domain.accounts import User
from gpubroker.services.billing_webhooks import WebhookDeps
from gpubroker.wiring.billing import BillingWebhookApiDeps
from tests.component.conftest import handler_module
from tests.events import Ctx
from tests.fakes import UNLIMITED, trail
from tests.fakes_audit import MemoryAuditLog
from tests.fakes_auth import MemoryUsers
from tests.fakes_billing import SECRET, MemoryBillingStore, StaticSecret, event, sign, subscription, webhook_event

EMAIL, USER_ID = "ada@example.com", "u-ada"


class World:
    def __init__(self, secret: str = SECRET) -> None:
        self.users = MemoryUsers()
        self.users.create(User(user_id=USER_ID, email=EMAIL, password_hash="x"))
        self.store = MemoryBillingStore(plans={EMAIL: "free"})
        self.audit = MemoryAuditLog()
        self.deps = BillingWebhookApiDeps(
            front_door=UNLIMITED, audit=trail(self.audit),
            webhook=WebhookDeps(secret=StaticSecret(secret), store=self.store, users=self.users),
        )  # fmt: skip

    def post(self, body: str, signature: str | None, **kw: Any) -> tuple[int, dict[str, Any]]:
        ev = webhook_event(body, signature)
        ev.update(kw)
        res = handler_module("api_billing_webhook").lambda_handler(ev, Ctx(), deps=self.deps)
        return int(res["statusCode"]), json.loads(res["body"])

    def send(self, body: str) -> tuple[int, dict[str, Any]]:
        return self.post(body, sign(body))

    def audited(self) -> list[tuple[str, str, str]]:
        entries = sorted((e for n in range(self.audit.shards) for e in self.audit.all_entries(n)), key=lambda e: e.ts)
        return [(e.action, e.resource, e.outcome) for e in entries]


def test_a_subscription_sets_the_plan_once_and_a_replay_changes_nothing() -> None:
    w = World()
    body = event("customer.subscription.created", subscription("pro", user_id=USER_ID))
    event_id = json.loads(body)["id"]
    assert w.send(body) == (200, {"received": True, "event_id": event_id,
                                  "type": "customer.subscription.created", "outcome": "applied"})  # fmt: skip
    assert w.store.plans[EMAIL] == "pro"
    assert w.store.customers["cus_test1"] == (USER_ID, EMAIL)
    w.store.plans[EMAIL] = "enterprise"  # changed since: a replay must not set it back
    status, body_out = w.send(body)
    assert (status, body_out["outcome"]) == (200, "duplicate")
    assert w.store.plans[EMAIL] == "enterprise"
    assert w.audited() == [("billing.webhook", f"stripe_event/{event_id}", "ok")] * 2


def test_a_deleted_subscription_is_the_free_plan_and_an_older_event_never_overwrites_a_newer() -> None:
    w = World()
    now = int(time.time())
    created = event("customer.subscription.created", subscription("enterprise", user_id=USER_ID), created=now - 60)
    deleted = event("customer.subscription.deleted", subscription("enterprise", status="canceled"), created=now)
    assert w.send(deleted)[1]["outcome"] == "user_unknown"  # no metadata, customer not linked yet
    assert w.send(created)[1]["outcome"] == "applied"
    assert w.store.plans[EMAIL] == "enterprise"
    later = event("customer.subscription.deleted", subscription("enterprise", status="canceled"), created=now + 1)
    assert w.send(later)[1]["outcome"] == "applied"  # the customer is linked now
    assert w.store.plans[EMAIL] == "free"
    stale_update = event("customer.subscription.updated", subscription("pro", user_id=USER_ID), created=now - 30)
    assert w.send(stale_update)[1]["outcome"] == "superseded"
    assert w.store.plans[EMAIL] == "free"
    assert w.store.events[json.loads(stale_update)["id"]].outcome == "superseded"


def test_a_past_due_subscription_keeps_its_plan_an_unpaid_one_is_free() -> None:
    w = World()
    now = int(time.time())
    w.send(event("customer.subscription.updated", subscription("pro", user_id=USER_ID, status="past_due"),
                 created=now - 2))  # fmt: skip
    assert w.store.plans[EMAIL] == "pro"
    w.send(event("customer.subscription.updated", subscription("pro", user_id=USER_ID, status="unpaid"), created=now))
    assert w.store.plans[EMAIL] == "free"


def test_an_unknown_user_is_recorded_not_refused() -> None:
    w = World()
    body = event("customer.subscription.created", subscription("pro", customer="cus_nobody", user_id="u-nobody"))
    assert w.send(body)[0] == 200
    assert w.store.events[json.loads(body)["id"]].outcome == "user_unknown"
    assert w.store.plans == {EMAIL: "free"}


def test_a_failed_payment_is_recorded_with_its_amount_in_minor_units() -> None:
    w = World()
    w.store.link_customer("cus_test1", user_id=USER_ID, email=EMAIL)
    invoice = {"id": "in_1", "object": "invoice", "customer": "cus_test1", "amount_due": 2900, "currency": "usd",
               "attempt_count": 2}  # fmt: skip
    body = event("invoice.payment_failed", invoice)
    status, out = w.send(body)
    assert (status, out["outcome"]) == (200, "recorded")
    record = w.store.events[out["event_id"]]
    assert record.fields == {"object_id": "in_1", "customer": "cus_test1", "attempt_count": "2",
                             "amount_due": '{"amount": 2900, "currency": "usd"}', "user_id": USER_ID}  # fmt: skip
    assert w.store.plans[EMAIL] == "free"
    assert w.send(body)[1]["outcome"] == "duplicate"


@pytest.mark.parametrize("kind", ["checkout.session.completed", "invoice.paid", "payment_intent.succeeded",
                                  "payment_intent.payment_failed", "charge.refunded"])  # fmt: skip
def test_the_other_listed_events_are_acknowledged_and_kept_with_their_body(kind: str) -> None:
    w = World()
    body = event(kind, {"id": "obj_1", "customer": "cus_test1"})
    status, out = w.send(body)
    assert (status, out["outcome"]) == (200, "received")
    assert w.store.events[out["event_id"]].payload == body


def test_an_event_type_we_did_not_ask_for_is_acknowledged_and_recorded_as_ignored() -> None:
    w = World()
    status, out = w.send(event("customer.created", {"id": "cus_9"}))
    assert (status, out["outcome"]) == (200, "ignored")
    assert w.store.events[out["event_id"]].payload is None


def _refused(w: World, body: str, signature: str | None, reason: str, **kw: Any) -> None:
    status, out = w.post(body, signature, **kw)
    assert (status, out["error"]["code"]) == (400, "invalid_signature"), out
    assert out["error"]["message"] == "the webhook's Stripe-Signature is missing, invalid or too old"  # one for all
    assert w.store.events == {} and w.store.plans == {EMAIL: "free"} and w.store.customers == {}
    assert w.audited()[-1] == ("billing.webhook", "/billing/webhook", f"refused:400:{reason}")


def test_refusals_write_nothing() -> None:
    w = World()
    body = event("customer.subscription.created", subscription("pro", user_id=USER_ID))
    now = int(time.time())
    _refused(w, body, None, "missing")
    _refused(w, body, "", "missing")
    _refused(w, body, sign(body, "whsec_someone_else"), "mismatch")
    _refused(w, body, sign(body, at=now - 301), "stale")
    _refused(w, body, sign(body.replace('"pro"', '"enterprise"')), "mismatch")  # signed another body
    _refused(w, body, f"t={now},v0={sign(body).split('v1=')[1]}", "malformed")  # not the v1 scheme
    _refused(w, body, "garbage", "malformed")
    assert w.send(body)[1]["outcome"] == "applied"  # the same body, well signed: accepted


def test_a_signature_just_inside_the_tolerance_is_accepted() -> None:
    w = World()
    body = event("customer.subscription.created", subscription("pro", user_id=USER_ID))
    assert w.post(body, sign(body, at=int(time.time()) - 290))[0] == 200


def test_without_a_configured_secret_every_webhook_is_refused() -> None:
    w = World(secret="")
    body = event("customer.subscription.created", subscription("pro", user_id=USER_ID))
    _refused(w, body, sign(body), "no_secret")


def test_a_signed_body_that_is_not_an_event_is_refused() -> None:
    w = World()
    body = json.dumps({"id": "not-an-event", "type": "x"})
    status, out = w.post(body, sign(body))
    assert (status, out["error"]["code"]) == (400, "invalid_event")
    assert w.store.events == {}


def test_a_base64_body_is_verified_as_its_text() -> None:
    w = World()
    body = event("customer.subscription.created", subscription("pro", user_id=USER_ID))
    encoded = base64.b64encode(body.encode()).decode()
    status, out = w.post(encoded, sign(body), isBase64Encoded=True)
    assert (status, out["outcome"]) == (200, "applied")
