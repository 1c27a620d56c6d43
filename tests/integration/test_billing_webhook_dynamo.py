"""POST /billing/webhook on its default wiring against the AWS-compatible endpoint (moto): the issue's replay test
(100 deliveries: duplicated, shuffled, concurrent, some forged, some stale -> each valid event applied exactly
once, the bad ones refused, the plans those of the newest events), and the secret read from Secrets Manager with
the local stack's default only while the secret has none."""

from __future__ import annotations

import importlib.util
import json
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
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
from tests.integration.conftest import Endpoint, call_handler, fresh_handler, wired_auth_deps

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


def environments(n: int) -> list[Any]:
    """``n`` copies of the handler module, each with its own resolver: like ``n`` Lambda environments, each serving
    one request at a time (one Powertools resolver keeps the current event on itself: it is not for threads)."""
    path = Path(__file__).parents[2] / "functions" / "api_billing_webhook" / "handler.py"
    copies = []
    for i in range(n):
        spec = importlib.util.spec_from_file_location(f"billing_webhook_env_{i}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        copies.append(module)
    return copies


@dataclass
class Replay:
    """The issue's replay: valid events (each delivered 1-3 times) and bad deliveries, 100 in all, shuffled."""

    valid: list[str] = field(default_factory=list)
    forged_only: list[str] = field(default_factory=list)
    newest: dict[str, tuple[str, str]] = field(default_factory=dict)  # email -> (order, plan) of its newest event
    deliveries: list[tuple[str, str, bool]] = field(default_factory=list)  # (body, signature, valid)


def subscription_events(rng: random.Random, run: str, people: list[User], now: int, replay: Replay) -> None:
    for i in range(24):
        user = people[i % len(people)]
        plan, created, event_id = rng.choice(PLANS), now - rng.randrange(0, 200), f"evt_{run}_{i:03d}"
        kind = "customer.subscription.deleted" if plan == "free" else "customer.subscription.updated"
        obj = subscription(plan if plan != "free" else "pro", customer=f"cus_{run}_{i % 4}", user_id=user.user_id,
                           status="canceled" if plan == "free" else "active")  # fmt: skip
        replay.valid.append(event(kind, obj, event_id=event_id, created=created))
        replay.newest[user.email] = max(replay.newest.get(user.email, ("", "")), (order_key(created, event_id), plan))


def bad_signature(rng: random.Random, body: str, now: int) -> str:
    kind = rng.choice(["forged", "stale", "tampered", "missing"])
    if kind == "forged":
        return sign(body, "whsec_attacker")
    if kind == "tampered" and '"pro"' in body:
        return sign(body.replace('"pro"', '"enterprise"'), LOCAL_WEBHOOK_SECRET)  # signed another body
    if kind == "missing":
        return ""
    return sign(body, LOCAL_WEBHOOK_SECRET, at=now - rng.randrange(301, 1000))  # stale


def replay_of(rng: random.Random, run: str, people: list[User]) -> Replay:
    now = int(time.time())
    replay = Replay()
    subscription_events(rng, run, people, now, replay)
    for i in range(6):
        kind = rng.choice(["invoice.payment_failed", "invoice.paid", "charge.refunded"])
        obj = {"id": f"in_{i}", "customer": f"cus_{run}_{i % 4}", "amount_due": 1000 + i, "currency": "usd"}
        replay.valid.append(event(kind, obj, event_id=f"evt_{run}_x{i:02d}"))
    replay.forged_only = [event("customer.subscription.updated", subscription("enterprise", user_id=p.user_id),
                                event_id=f"evt_{run}_forged{n}") for n, p in enumerate(people)]  # fmt: skip
    for body in replay.valid:
        replay.deliveries += [(body, sign(body, LOCAL_WEBHOOK_SECRET), True)] * rng.choice([1, 2, 3])  # <= 90
    while len(replay.deliveries) < 100:
        body = rng.choice(replay.valid + replay.forged_only)
        replay.deliveries.append((body, bad_signature(rng, body, now), False))
    rng.shuffle(replay.deliveries)
    return replay


def test_100_replayed_webhooks_apply_each_valid_event_exactly_once(wired: Any) -> None:
    _, deps, store, users = wired
    rng = random.Random(12)
    run = f"{random.getrandbits(32):08x}"
    people = [User(user_id=f"u-{run}-{n}", email=f"payer{n}-{run}@example.com", password_hash="x") for n in range(4)]
    assert all(users.create(user) for user in people)
    replay = replay_of(rng, run, people)
    assert len(replay.deliveries) == 100
    envs = environments(8)
    lock = threading.Lock()

    def one(d: tuple[str, str, bool]) -> tuple[int, dict[str, Any], str, bool]:
        with lock:
            env = envs.pop()
        try:
            status, out = deliver(env, d[0], d[1] or None, deps)
        finally:
            with lock:
                envs.append(env)
        return status, out, json.loads(d[0])["id"], d[2]

    with ThreadPoolExecutor(8) as pool:  # 8 environments at once, shuffled, duplicates racing each other
        results = list(pool.map(one, replay.deliveries))

    first_time: Counter[str] = Counter()
    for status, out, event_id, ok in results:
        assert (status, out.get("error", {}).get("code")) == ((200, None) if ok else (400, "invalid_signature")), out
        if ok and out["outcome"] != "duplicate":
            first_time[event_id] += 1
    valid_ids = {json.loads(b)["id"] for b in replay.valid}
    assert first_time == Counter(dict.fromkeys(valid_ids, 1))  # every valid event acted on exactly once
    assert all(store.event(event_id) is not None for event_id in valid_ids)
    assert all(store.event(json.loads(b)["id"]) is None for b in replay.forged_only)  # never written
    for email, (_, plan) in replay.newest.items():
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


def test_a_plan_change_reaches_the_token_at_the_next_refresh(wired: Any) -> None:
    """README: the new plan (and its rate-limit tier) applies from the user's next token refresh."""
    handler, deps, _, users = wired
    auth_deps = wired_auth_deps()
    email, password = f"subscriber-{random.getrandbits(32):08x}@example.com", "correct horse battery staple"
    assert (
        call_handler("api_auth_register", "/auth/register", {"email": email, "password": password}, auth_deps)[0] == 202
    )
    status, tokens, headers = call_handler("api_auth_login", "/auth/login", {"email": email, "password": password},
                                           auth_deps)  # fmt: skip
    assert status == 200 and jwt.decode(tokens["access_token"], options={"verify_signature": False})["plan"] == "free"
    cookie = str((headers["Set-Cookie"][0] if isinstance(headers["Set-Cookie"], list) else headers["Set-Cookie"])
                 .split(";")[0])  # fmt: skip
    user = users.by_email(email)
    assert user is not None
    body = event("customer.subscription.created", subscription("pro", customer=f"cus_{user.user_id}",
                                                               user_id=user.user_id))  # fmt: skip
    handler = fresh_handler("api_billing_webhook")
    assert deliver(handler, body, sign(body, LOCAL_WEBHOOK_SECRET), deps) == (200, {
        "received": True, "event_id": json.loads(body)["id"], "type": "customer.subscription.created",
        "outcome": "applied"})  # fmt: skip
    status, rotated, _ = call_handler("api_auth_refresh", "/auth/refresh", {"refresh_token": tokens["refresh_token"]},
                                      auth_deps, cookie=cookie)  # fmt: skip
    assert status == 200
    assert jwt.decode(rotated["access_token"], options={"verify_signature": False})["plan"] == "pro"
