"""POST /billing/webhook on its default wiring against the AWS-compatible endpoint (moto): the issue's replay test
(100 deliveries: duplicated, shuffled, concurrent, some forged, some stale -> each valid event applied exactly
once, the bad ones refused, the plans those of the newest events), and the secret read from Secrets Manager with
the local stack's default only while the secret has none."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from gpubroker.adapters import secrets
from gpubroker.adapters.auth_store import DynamoUserStore
from gpubroker.adapters.aws import client
from gpubroker.adapters.billing_store import DynamoBillingStore
from gpubroker.domain.accounts import User
from gpubroker.domain.billing_events import order_key
from gpubroker.wiring import edge
from gpubroker.wiring.billing import LOCAL_WEBHOOK_SECRET, BillingWebhookApiDeps, billing_webhook_deps
from tests.fakes import UNLIMITED
from tests.fakes_billing import deliver, event, sign, subscription
from tests.integration.conftest import Endpoint, fresh_handler

PLANS = ("free", "pro", "enterprise")


@pytest.fixture
def wired(endpoint: Endpoint) -> tuple[Any, BillingWebhookApiDeps, DynamoBillingStore, DynamoUserStore]:
    handler = fresh_handler("api_billing_webhook")
    secrets.clear_cache()
    deps = billing_webhook_deps()
    # the default wiring's ports, but an unlimited front door: 100 deliveries from one address in a second would
    # meet the anonymous rate limit (Stripe retries a 429; the limit is not what this test is about)
    deps = BillingWebhookApiDeps(front_door=UNLIMITED, audit=edge.audit_trail(), webhook=deps.webhook)
    table = endpoint.names["AuthTable"]
    return handler, deps, DynamoBillingStore(table), DynamoUserStore(table)


def test_100_replayed_webhooks_apply_each_valid_event_exactly_once(wired: Any) -> None:
    handler, deps, store, users = wired
    rng = random.Random(12)
    run = f"{rng.getrandbits(32):08x}"
    now = int(time.time())
    people = []
    for n in range(4):
        user = User(user_id=f"u-{run}-{n}", email=f"payer{n}-{run}@example.com", password_hash="x")
        assert users.create(user)
        people.append(user)
    valid: list[str] = []
    newest: dict[str, tuple[str, str]] = {}  # email -> (order, plan) of its newest subscription event
    for i in range(24):
        user = people[i % len(people)]
        plan, created = rng.choice(PLANS), now - rng.randrange(0, 200)
        kind = "customer.subscription.deleted" if plan == "free" else "customer.subscription.updated"
        status = "canceled" if plan == "free" else "active"
        body = event(kind, subscription(plan if plan != "free" else "pro", customer=f"cus_{run}_{i % 4}",
                                        user_id=user.user_id, status=status),
                     event_id=f"evt_{run}_{i:03d}", created=created)  # fmt: skip
        valid.append(body)
        key = order_key(created, f"evt_{run}_{i:03d}")
        newest[user.email] = max(newest.get(user.email, ("", "")), (key, plan))
    for i in range(6):
        kind = rng.choice(["invoice.payment_failed", "invoice.paid", "charge.refunded"])
        obj = {"id": f"in_{i}", "customer": f"cus_{run}_{i % 4}", "amount_due": 1000 + i, "currency": "usd"}
        valid.append(event(kind, obj, event_id=f"evt_{run}_x{i:02d}"))
    forged_only = [event("customer.subscription.updated", subscription("enterprise", user_id=p.user_id),
                         event_id=f"evt_{run}_forged{n}") for n, p in enumerate(people)]  # fmt: skip

    deliveries: list[tuple[str, str, bool]] = []  # (body, signature, valid)
    for body in valid:
        deliveries += [(body, sign(body), True)] * rng.choice([1, 2, 3])  # at most 90: at least 10 bad ones
    while len(deliveries) < 100:
        body = rng.choice(valid + forged_only)
        kind = rng.choice(["forged", "stale", "tampered", "missing"])
        sig = {"forged": sign(body, "whsec_attacker"), "stale": sign(body, LOCAL_WEBHOOK_SECRET, at=now - 400),
               "tampered": sign(body.replace('"pro"', '"enterprise"'), LOCAL_WEBHOOK_SECRET), "missing": ""}[kind]
        if kind == "tampered" and '"pro"' not in body:
            sig = sign(body, LOCAL_WEBHOOK_SECRET, at=now - 301)
        deliveries.append((body, sig, False))
    deliveries = [(b, sign(b, LOCAL_WEBHOOK_SECRET) if ok else s, ok) for b, s, ok in deliveries]
    rng.shuffle(deliveries)
    assert len(deliveries) == 100

    def one(d: tuple[str, str, bool]) -> tuple[int, dict[str, Any], str, bool]:
        status, out = deliver(handler, d[0], d[1] or None, deps)
        return status, out, json.loads(d[0])["id"], d[2]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, deliveries))

    d_of = {json.loads(b)['id']: (b[:300], s) for b, s, ok in deliveries if ok}
    first_time: Counter[str] = Counter()
    for status, out, event_id, ok in results:
        if ok:
            assert status == 200, out
            if out["outcome"] != "duplicate":
                first_time[event_id] += 1
        else:
            assert (status, out["error"]["code"]) == (400, "invalid_signature"), out
    valid_ids = {json.loads(b)["id"] for b in valid}
    assert first_time == Counter(dict.fromkeys(valid_ids, 1))  # every valid event acted on exactly once
    for event_id in valid_ids:
        assert store.event(event_id) is not None
    for body in forged_only:
        assert store.event(json.loads(body)["id"]) is None  # never written
    for email, (_, plan) in newest.items():
        profile = users.by_email(email)
        assert profile is not None and profile.plan == plan, email
    bad = sum(1 for *_, ok in results if not ok)
    print(f"\n100 deliveries: {len(valid_ids)} valid events, {100 - bad - len(valid_ids)} duplicates, {bad} refused")


def test_the_secret_in_secrets_manager_replaces_the_local_default(wired: Any, endpoint: Endpoint) -> None:
    handler, deps, store, _ = wired
    sm = client("secretsmanager")
    secret_id = endpoint.names["StripeSecret"]
    before = sm.get_secret_value(SecretId=secret_id)["SecretString"]
    sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps({"webhook_secret": "whsec_deployed"}))
    secrets.clear_cache()
    try:
        body = event("invoice.paid", {"id": "in_s", "customer": "cus_s"})
        assert deliver(handler, body, sign(body, LOCAL_WEBHOOK_SECRET), deps)[0] == 400
        assert store.event(json.loads(body)["id"]) is None
        status, out = deliver(handler, body, sign(body, "whsec_deployed"), deps)
        assert (status, out["outcome"]) == (200, "received")
    finally:
        sm.put_secret_value(SecretId=secret_id, SecretString=before)
        secrets.clear_cache()
