"""The chaos experiments of ``make chaos`` (issue 16 §2), each against a running local stack: one fault, what must
hold while it lasts (no 5xx where a fallback exists, nothing lost, compensations correct) and how long until the
stack is whole again (``recovery_s``, defined per experiment). The expected outcomes are written beside each one
here and in infra/chaos/README.md; tests/e2e/test_chaos.py runs a cheap subset in the e2e tier.

An experiment is a function of a :class:`Lab` (the stack, a signed-in booker, and the tools this run has: its own
Redis, the DynamoDB throttle, a fake provider, a fake language model) returning an :class:`Outcome`; it clears the
faults it set, whatever happens."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
from websockets.asyncio.client import connect

from infra.local.faults import set_fault
from infra.local.ingest import invoke
from tests.chaos.tools import DynamoThrottle, FakeProvider, OwnRedis
from tests.e2e.bookings_client import Booker, dynamodb
from tests.e2e.conftest import request
from tests.e2e.test_bookings import World, booker_with_card
from tests.fakes_live import offer
from tests.llm_fakes import TEXT, FakeOpenAI

INGEST = "IngestOffersFunction"
PAYMENTS = "/v1/payment_intents"


@dataclass
class Outcome:
    name: str
    fault: str
    expected: str
    observed: str = ""
    recovery_s: float | None = None
    problems: list[str] = field(default_factory=list)
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def check(self, condition: bool, problem: str) -> bool:
        if not condition:
            self.problems.append(problem)
        return condition


@dataclass
class Lab:
    """The stack under test and the chaos tools of this run (None: this run has not got it)."""

    world: World
    catalogs: Path
    redis: OwnRedis | None = None
    dynamo: DynamoThrottle | None = None
    provider: FakeProvider | None = None
    llm: FakeOpenAI | None = None
    _booker: Booker | None = None

    @property
    def url(self) -> str:
        return self.world.stack.url

    @property
    def names(self) -> dict[str, str]:
        names: dict[str, str] = self.world.state["names"]
        return names

    @property
    def booker(self) -> Booker:
        """A verified user with a saved card (the first booking went through Checkout), made once per run."""
        if self._booker is None:
            self._booker = booker_with_card(self.world)
        return self._booker

    def stripe_fault(self, **spec: Any) -> None:
        status, _, _ = request("POST", f"{self.world.state['stripe']}/_local/faults", spec)
        assert status == 201, status

    def clear(self) -> None:
        """Every fault off: the stack's rules, the Stripe server's, the throttle, the fake provider's and model's."""
        self.world.clear()
        request("DELETE", f"{self.world.state['stripe']}/_local/faults")
        if self.dynamo is not None:
            self.dynamo.clear()
        if self.provider is not None:
            self.provider.faults.clear()
            self.provider.always = None
        if self.llm is not None:
            self.llm.mode = "answer"

    def ingest(self, event: dict[str, Any]) -> dict[str, Any]:
        failed, report = invoke(self.url, INGEST, event, self.world.creds)
        assert not failed, report
        return dict(report)

    def offers_of(self, provider: str) -> tuple[int, dict[str, Any]]:
        status, page, _ = request("GET", f"{self.url}/offers?provider={provider}&limit=1", headers=self.booker.headers)
        return status, page


def book_and_settle(lab: Lab, out: Outcome, expected_status: str, timeout_s: float = 120) -> dict[str, Any]:
    """A booking with the saved card, to its end; checks the money and the capacity against its outcome: a confirmed
    booking is charged once (its amount) with one live instance, any other has charged - refunded == 0 and none."""
    started = time.monotonic()
    status, answer = lab.booker.book(lab.world.offer["offer_id"], hours=1)
    if not out.check(status == 202, f"POST /bookings answered {status}: {answer}"):
        return {}
    booking = lab.booker.wait(answer["booking_id"], timeout_s=timeout_s)
    took = time.monotonic() - started
    charged, refunded = lab.world.money(booking)
    live = lab.world.live_instances(booking["booking_id"])
    out.observed = (
        f"{booking['status']} ({booking.get('reason') or '-'}); charged {charged}, refunded {refunded}, "
        f"live instances {len(live)}; settled in {took:.1f}s"
    )
    out.check(booking["status"] == expected_status, f"status {booking['status']}, expected {expected_status}")
    if booking["status"] == "confirmed":
        out.check((charged, refunded) == (booking["amount"]["amount"], 0), f"money {charged}/{refunded}")
        out.check(len(live) == 1, f"{len(live)} live instances for a confirmed booking")
    else:
        out.check(charged == refunded, f"charged {charged} but refunded {refunded}")
        out.check(not live, f"{len(live)} instances left after the compensation")
    booking["took_s"] = took
    return booking


def audit_trail(lab: Lab, booking_id: str, *, until: str, timeout_s: float = 15) -> list[str]:
    """The booking's audit actions once ``until`` is among them (entries reach the table through the audit spool
    queue, a moment after the saga's step), or as they are at the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        actions = lab.world.audit_actions(booking_id)
        if until in actions or time.monotonic() > deadline:
            return actions
        time.sleep(0.2)


def intents_of(lab: Lab, booking_id: str) -> int:
    """How many PaymentIntents Stripe holds for the booking (one, whatever the retries)."""
    count = 0
    for intent in lab.world.stripe.v1.payment_intents.list({"limit": 100}).auto_paging_iter():
        metadata: dict[str, Any] = intent.metadata.to_dict() if intent.metadata else {}
        count += metadata.get("booking_id") == booking_id
    return count


# ------------------------------------------------------------------------------------------------------- Stripe


def stripe_5xx_transient(lab: Lab) -> Outcome:
    out = Outcome(
        "stripe-5xx-transient",
        "Stripe answers 500 to the next 2 charge requests",
        "confirmed; charged exactly once (the idempotency key replays); no refund",
    )
    return confirmed_and_charged_once(lab, out, status=500, times=2)


def stripe_5xx_persistent(lab: Lab) -> Outcome:
    out = Outcome(
        "stripe-5xx-persistent",
        "Stripe answers 500 to every charge request",
        "failed (payment_failed) after the charge step's retries; nothing charged; instance released",
    )
    lab.stripe_fault(path_prefix=PAYMENTS, method="POST", status=500, times=1000)
    try:
        book_and_settle(lab, out, "failed")
    finally:
        lab.clear()
    started = time.monotonic()
    after = book_and_settle(lab, Outcome("", "", ""), "confirmed")  # Stripe back: the next booking goes through
    out.check(after.get("status") == "confirmed", f"the next booking after Stripe came back: {after.get('status')}")
    out.recovery_s = time.monotonic() - started
    return out


def stripe_timeout(lab: Lab) -> Outcome:
    out = Outcome(
        "stripe-timeout",
        "Stripe holds the next charge request 11 s (the SDK gives up at 10 s)",
        "confirmed; the SDK's retry reuses the idempotency key: one PaymentIntent, charged once",
    )
    return confirmed_and_charged_once(lab, out, delay_ms=11_000, times=1)


def confirmed_and_charged_once(lab: Lab, out: Outcome, **fault: Any) -> Outcome:
    """Book under a transient Stripe ``fault`` on the charge requests: the booking confirms, with one PaymentIntent
    (the SDK's retries reuse the idempotency key); the recovery is the booking's settling time."""
    lab.stripe_fault(path_prefix=PAYMENTS, method="POST", **fault)
    try:
        booking = book_and_settle(lab, out, "confirmed")
        if booking:
            out.check(intents_of(lab, booking["booking_id"]) == 1, "more than one PaymentIntent")
            out.recovery_s = booking["took_s"]
    finally:
        lab.clear()
    return out


# ------------------------------------------------------------------------------------------- a Lambda killed


def lambda_killed(step: str, expected: str, expected_status: str) -> Callable[[Lab], Outcome]:
    def experiment(lab: Lab) -> Outcome:
        out = Outcome(
            f"lambda-killed-{step.lower()}",
            f"Booking{step}Function's process killed (SIGKILL) after its side effect",
            expected,
        )
        set_fault(lab.url, {"function": f"Booking{step}Function", "kill": True, "when": "after"}, lab.world.creds)
        try:
            booking = book_and_settle(lab, out, expected_status)
            if booking:
                out.recovery_s = booking["took_s"]
                audit = audit_trail(lab, booking["booking_id"], until="booking.fail")
                out.check("booking.create" in audit and "booking.fail" in audit, f"audit trail {audit}")
        finally:
            lab.clear()
        return out

    return experiment


lambda_killed_reserve = lambda_killed(
    "Reserve",
    "failed; the instance reserved before the kill is released by the compensation; nothing charged",
    "failed",
)
lambda_killed_charge = lambda_killed(
    "Charge", "failed; the charge made before the kill is refunded in full, the instance released", "failed"
)


# ---------------------------------------------------------------------------------------------------- WebSocket


def websocket_gone(lab: Lab) -> Outcome:
    """A subscribed connection that API Gateway no longer knows (its $disconnect was lost): a clone of a live
    subscriber's row under an id the WebSocket API answers 410 for."""
    out = Outcome(
        "websocket-gone-410",
        "a stored subscriber's connection is gone (@connections answers 410)",
        "the broadcaster deletes the stale connection; the live subscriber still gets the change",
    )
    ddb = dynamodb(lab.world.state)
    table = lab.names["ConnectionsTable"]
    offers = boto3.resource("dynamodb", endpoint_url=lab.world.state["aws_endpoint"], region_name="us-east-1").Table(
        lab.names["OffersTable"]
    )
    offer_id = f"runpod-chaos-{uuid.uuid4().hex[:10]}"
    gone_id = f"chaosGone{uuid.uuid4().hex[:8]}="

    async def run() -> None:
        assert lab.world.stack.ws_url
        async with connect(lab.world.stack.ws_url) as ws:
            await ws.send(json.dumps({"action": "subscribe", "filters": {"provider": "runpod"}}))
            while True:  # the subscribe answer and the snapshot pages, then a short silence
                try:
                    await asyncio.wait_for(ws.recv(), 1.0)
                except TimeoutError:
                    break
            rows: list[dict[str, Any]] = ddb.scan(
                TableName=table,
                FilterExpression="sub_key = :k",
                ExpressionAttributeValues={":k": {"S": "provider#runpod"}},
            )["Items"]
            if not out.check(bool(rows), "no stored runpod subscriber to clone"):
                return
            newest = max(rows, key=lambda r: str(r.get("connected_at", {}).get("S", "")))
            clone = {**newest, "connection_id": {"S": gone_id}}
            ddb.put_item(TableName=table, Item=clone)
            item = json.loads(json.dumps(offer(offer_id, 1.23, gpu_count=1)), parse_float=Decimal)
            started = time.monotonic()
            offers.put_item(Item=item)
            heard = gone_at = None
            deadline = started + 30
            while time.monotonic() < deadline and (heard is None or gone_at is None):
                if gone_at is None and "Item" not in ddb.get_item(
                    TableName=table, Key={"connection_id": {"S": gone_id}}
                ):
                    gone_at = time.monotonic() - started
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
                except TimeoutError:
                    continue
                batch = frame["messages"] if frame.get("type") == "batch" else [frame]
                if any(m.get("offer_id") == offer_id for m in batch):
                    heard = time.monotonic() - started
            out.check(heard is not None, "the live subscriber never heard the change")
            out.check(gone_at is not None, "the gone connection was never deleted")
            out.observed = f"live subscriber heard it after {heard or 0:.2f}s; gone connection deleted after " + (
                f"{gone_at:.2f}s" if gone_at is not None else "never"
            )
            out.recovery_s = gone_at

    try:
        asyncio.run(run())
    finally:
        offers.delete_item(Key={"offer_id": offer_id})
        ddb.delete_item(TableName=table, Key={"connection_id": {"S": gone_id}})
    return out


# ---------------------------------------------------------------------------------------------------- ingestion


def _provider_secret(lab: Lab) -> None:
    sm = boto3.client("secretsmanager", endpoint_url=lab.world.state["aws_endpoint"], region_name="us-east-1")
    sm.put_secret_value(SecretId=lab.names["ProviderSecrets"], SecretString=json.dumps({"lambda": {"api_key": "k"}}))


def _api_event(lab: Lab) -> dict[str, Any]:
    assert lab.provider is not None
    return {"provider": "lambda", "source": "api", "base_url": lab.provider.url}


def provider_garbage(lab: Lab) -> Outcome:
    out = Outcome(
        "provider-garbage",
        "the provider API answers 200 with an HTML page instead of JSON",
        "the run fails (not retried); lambda's last good offers stay searchable, flagged stale; "
        "no 5xx; the next good run recovers",
    )
    assert lab.provider is not None
    _provider_secret(lab)
    status, before = lab.offers_of("lambda")
    lab.provider.always = "garbage"
    try:
        report = lab.ingest(_api_event(lab))
        out.check(report["status"] == "failed", f"run {report['status']}")
        time.sleep(lab.world.state["snapshot_ttl_s"])
        status, after = lab.offers_of("lambda")
        out.check(status == 200, f"GET /offers?provider=lambda answered {status}")
        out.check(after.get("count") == before.get("count"), f"offers {before.get('count')} -> {after.get('count')}")
        out.check(after.get("stale") is True, "the kept offers are not flagged stale")
    finally:
        lab.clear()
    started = time.monotonic()
    report = lab.ingest(_api_event(lab))
    out.check(report["status"] == "ok", f"the recovery run: {report['status']}")
    while time.monotonic() - started < 30:
        status, page = lab.offers_of("lambda")
        if status == 200 and page.get("stale") is False:
            out.recovery_s = time.monotonic() - started
            break
        time.sleep(0.2)
    out.check(out.recovery_s is not None, "lambda's offers still stale after the good run")
    out.observed = (
        f"failed run kept {after.get('count')} offers (stale={after.get('stale')}); good run: "
        f"{report['accepted']} offers, not stale"
    )
    return out


def _transient(name: str, faults: list[str], what: str) -> Callable[[Lab], Outcome]:
    """A provider that fails ``faults`` (in order) and then answers: the run retries through them."""

    def experiment(lab: Lab) -> Outcome:
        out = Outcome(name, what, f"the run succeeds after {len(faults)} retried attempt(s); no 5xx; offers fresh")
        assert lab.provider is not None
        _provider_secret(lab)
        lab.provider.faults = list(faults)
        sent = lab.provider.requests
        try:
            started = time.monotonic()
            report = lab.ingest(_api_event(lab))
            out.recovery_s = time.monotonic() - started
            attempts = lab.provider.requests - sent
            out.check(report["status"] == "ok" and report["accepted"] > 0, f"run {report}")
            out.check(attempts == len(faults) + 1, f"{attempts} requests")
            out.observed = f"run {report['status']} after {attempts} requests, {report['accepted']} offers accepted"
        finally:
            lab.clear()
        return out

    return experiment


provider_5xx = _transient("provider-5xx", ["500", "500"], "the provider API answers 500 twice")
provider_timeout = _transient(
    "provider-timeout", ["hang"], "the provider API does not answer the first request (client timeout 20 s)"
)


def provider_down(lab: Lab) -> Outcome:
    out = Outcome(
        "provider-5xx-persistent",
        "the provider API answers 500 to every request",
        "5 failing attempts open lambda's breaker within the run; the next run is skipped without a "
        "request; the offers stay searchable, stale; no 5xx",
    )
    assert lab.provider is not None and lab.redis is not None
    _provider_secret(lab)
    _close_breaker(lab.redis)  # the earlier experiments' failing attempts are in its window: a clean start
    lab.provider.always = "500"
    try:
        sent = lab.provider.requests
        first = lab.ingest(_api_event(lab))
        between = lab.provider.requests
        second = lab.ingest(_api_event(lab))
        out.check(
            first["status"] == "failed" and between - sent == 5,
            f"first run {first['status']}, {between - sent} requests",
        )
        out.check(second["status"] == "skipped" and lab.provider.requests == between, f"second run {second}")
        time.sleep(lab.world.state["snapshot_ttl_s"])
        status, page = lab.offers_of("lambda")
        out.check(status == 200 and page.get("count", 0) > 0 and page.get("stale") is True, f"search {status}")
        out.observed = (
            f"run 1 {first['status']} after {between - sent} requests, run 2 {second['status']} "
            f"({second.get('skipped')}); search {status}, {page.get('count')} offers stale"
        )
    finally:
        lab.clear()
        _close_breaker(lab.redis)  # it stays open 65 min by design: closed by hand for the experiments after
    return out


def _close_breaker(redis: OwnRedis) -> None:
    """Forget lambda's breaker (its one hash, ``{breaker:lambda}``, in this run's Redis)."""
    redis.client().delete("{breaker:lambda}")


# -------------------------------------------------------------------------------------------- DynamoDB, S3


SUSTAINED_S = 15.0


def dynamodb_throttle(lab: Lab) -> Outcome:
    out = Outcome(
        "dynamodb-throttle",
        "DynamoDB throttles (ProvisionedThroughputExceeded): 3 requests, then 15 s of all",
        "brief: absorbed by the SDK's retries (200); sustained: 503 + Retry-After, never 500; 200 again after",
    )
    assert lab.dynamo is not None
    booker = lab.booker
    statuses: list[int] = []
    try:
        lab.dynamo.throttle(n=3)
        status, _, _ = request("GET", f"{lab.url}/bookings?limit=5", headers=booker.headers)
        out.check(status == 200, f"a brief throttle answered {status}")
        lab.dynamo.throttle(for_s=SUSTAINED_S)
        end = time.monotonic() + SUSTAINED_S
        while time.monotonic() < end:
            status, body, headers = request("GET", f"{lab.url}/bookings?limit=5", headers=booker.headers)
            statuses.append(status)
            if status >= 500:
                out.check(status == 503 and "Retry-After" in headers, f"{status} {body} under a sustained throttle")
        throttled = lab.dynamo.throttled
    finally:
        lab.clear()
    started = time.monotonic()
    while time.monotonic() - started < 30:
        status, _, _ = request("GET", f"{lab.url}/bookings?limit=5", headers=booker.headers)
        if status == 200:
            out.recovery_s = time.monotonic() - started
            break
        time.sleep(0.05)
    out.check(out.recovery_s is not None, "not 200 again after the throttle")
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    out.observed = f"brief: 200; sustained: {counts} ({throttled} requests throttled)"
    return out


SNAPSHOT_READERS = ("/offers?limit=1", "/presets/best-value?limit=1")


def s3_snapshot_missing(lab: Lab) -> Outcome:
    out = Outcome(
        "s3-snapshot-missing",
        "the snapshot manifest and the snapshot it names are deleted from S3",
        "warm search containers answer from the snapshot they hold (200), a cold one (the presets') 503 "
        "snapshot_missing, never 500; the next ingestion run republishes and both answer 200; nothing lost",
    )
    s3 = boto3.client("s3", endpoint_url=lab.world.state["aws_endpoint"], region_name="us-east-1")
    bucket = lab.names["SnapshotBucket"]
    status, before, _ = request("GET", f"{lab.url}/offers?limit=1")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key="snapshots/latest.json")["Body"].read())
    s3.delete_object(Bucket=bucket, Key=f"snapshots/{manifest['version']}.npz")
    s3.delete_object(Bucket=bucket, Key="snapshots/latest.json")
    time.sleep(lab.world.state["snapshot_ttl_s"])
    statuses: dict[str, list[int]] = {}
    for path in SNAPSHOT_READERS:  # /offers is warm (it answered above); the presets' function is still cold
        for _ in range(4):
            status, body, _ = request("GET", f"{lab.url}{path}", headers=lab.booker.headers)
            statuses.setdefault(path.split("?")[0], []).append(status)
            out.check(
                status == 200 or (status == 503 and body["error"]["code"] == "snapshot_missing"),
                f"{path}: {status} {body} with the snapshot missing",
            )
    started = time.monotonic()
    catalog = lab.catalogs / "verda" / "vms.csv"
    report = lab.ingest({"provider": "verda", "catalog": str(catalog)})
    out.check(report["status"] == "ok", f"the republishing run: {report['status']}")
    while time.monotonic() - started < 30:
        answers = [request("GET", f"{lab.url}/offers?limit=1") for _ in range(4)]
        ready = request("GET", f"{lab.url}/health/ready")[0]
        cold = request("GET", f"{lab.url}{SNAPSHOT_READERS[1]}", headers=lab.booker.headers)[0]
        fresh = all(a[0] == 200 and a[1]["snapshot_version"] > manifest["version"] for a in answers)
        if ready == 200 and cold == 200 and fresh:
            out.recovery_s = time.monotonic() - started
            after = answers[0][1]
            out.check(after["count"] == before["count"], f"offers {before['count']} -> {after['count']}")
            break
        time.sleep(0.2)
    out.check(out.recovery_s is not None, "the search did not come back on a new snapshot")
    counts = {path: {s: got.count(s) for s in sorted(set(got))} for path, got in statuses.items()}
    out.observed = f"while missing: {counts}; republished by one ingestion run ({report['accepted']} offers)"
    return out


# ------------------------------------------------------------------------------------------------ Redis, LLM


def redis_down(lab: Lab) -> Outcome:
    out = Outcome(
        "redis-down-and-back",
        "Redis killed (SIGKILL) mid-run, restarted 3 s later",
        "searches 200 on the in-process rate limiter, parse-workload 200 from the rules engine; a booking placed "
        "while it is down waits in the "
        "reserve step's retries and is confirmed once Redis is back; no key lost (append-only file); "
        "the rate limiter uses Redis again",
    )
    assert lab.redis is not None
    booker = lab.booker
    client = lab.redis.client()
    keys_before = {k for k in client.scan_iter(match="gpub:sandbox:*")}
    lab.redis.kill()
    killed = time.monotonic()
    try:
        statuses = [request("GET", f"{lab.url}/offers?limit=1", headers=booker.headers)[0] for _ in range(5)]
        out.check(all(s == 200 for s in statuses), f"searches with Redis down: {statuses}")
        # the model's daily budget is counted in Redis: not countable, the rules engine answers (fails closed)
        status, parsed, _ = request("POST", f"{lab.url}/ai/parse-workload", {"text": TEXT}, headers=booker.headers)
        out.check(status == 200 and parsed.get("engine") == "rules", f"parse-workload with Redis down: {status}")
        statuses.append(status)
        status, answer = booker.book(lab.world.offer["offer_id"], hours=1)
        out.check(status == 202, f"POST /bookings with Redis down: {status} {answer}")
        time.sleep(max(0.0, 3.0 - (time.monotonic() - killed)))
    finally:
        lab.redis.start()
    back, back_us = time.monotonic(), time.time() * 1e6
    client = lab.redis.client()
    limiter_back = None  # the first request the rate limiter logs in the restarted Redis (scores: its clock, in µs)
    while time.monotonic() - back < 30:
        request("GET", f"{lab.url}/offers?limit=1", headers=booker.headers)
        if any(_newest_us(client, key) >= back_us for key in client.scan_iter(match="{rl:*")):
            limiter_back = time.monotonic() - back
            break
        time.sleep(0.1)
    out.check(limiter_back is not None, "the rate limiter never wrote to Redis again")
    if status == 202:
        booking = booker.wait(answer["booking_id"], timeout_s=90)
        out.check(booking["status"] == "confirmed", f"the booking placed during the outage: {booking['status']}")
        out.check(len(lab.world.live_instances(booking["booking_id"])) == 1, "its instance")
        out.recovery_s = time.monotonic() - back
    lost = keys_before - set(client.scan_iter(match="gpub:sandbox:*"))
    out.check(not lost, f"{len(lost)} sandbox keys lost")
    out.observed = (
        f"answers {statuses}; booking {status} then confirmed {out.recovery_s or 0:.1f}s after the restart; "
        f"rate limiter on Redis again after {limiter_back or 0:.1f}s; {len(lost)} keys lost"
    )
    return out


def _newest_us(client: Any, key: str) -> float:
    newest = client.zrevrange(key, 0, 0, withscores=True)
    return float(newest[0][1]) if newest else 0.0


def llm_hang(lab: Lab) -> Outcome:
    out = Outcome(
        "llm-hang",
        "the language model accepts the request and never answers",
        "POST /ai/parse-workload answers 200 from the rules engine (fallback timeout) within the 3 s "
        "budget, then breaker_open at once; the model answers again once its breaker lets a trial "
        "through",
    )
    assert lab.llm is not None
    booker = lab.booker
    lab.llm.mode, lab.llm.hang_s = "hang", 30.0
    reasons, slowest = [], 0.0
    try:
        for _ in range(6):
            started = time.monotonic()
            status, body, _ = request("POST", f"{lab.url}/ai/parse-workload", {"text": TEXT}, headers=booker.headers)
            slowest = max(slowest, time.monotonic() - started)
            out.check(status == 200 and body.get("engine") == "rules", f"{status} {body} with the model hanging")
            reasons.append(body.get("fallback"))
        out.check(slowest < 6.0, f"an answer took {slowest:.1f}s (budget 3 s)")
        out.check(reasons[0] == "timeout" and reasons[-1] == "breaker_open", f"fallbacks {reasons}")
    finally:
        lab.clear()
    back = time.monotonic()
    while time.monotonic() - back < 120:
        status, body, _ = request("POST", f"{lab.url}/ai/parse-workload", {"text": TEXT}, headers=booker.headers)
        if status == 200 and body.get("engine") != "rules":
            out.recovery_s = time.monotonic() - back
            break
        time.sleep(2.0)
    out.check(out.recovery_s is not None, "the model never answered again")
    out.observed = (
        f"fallbacks {reasons}; slowest answer {slowest:.1f}s; the model back after {out.recovery_s or 0:.0f}s"
    )
    return out


Experiment = Callable[[Lab], Outcome]

ALL: dict[str, tuple[Experiment, tuple[str, ...]]] = {
    # name: (experiment, the Lab tools it needs)
    "stripe-5xx-transient": (stripe_5xx_transient, ()),
    "stripe-5xx-persistent": (stripe_5xx_persistent, ()),
    "stripe-timeout": (stripe_timeout, ()),
    "lambda-killed-reserve": (lambda_killed_reserve, ()),
    "lambda-killed-charge": (lambda_killed_charge, ()),
    "websocket-gone-410": (websocket_gone, ()),
    "dynamodb-throttle": (dynamodb_throttle, ("dynamo",)),
    "redis-down-and-back": (redis_down, ("redis",)),
    "llm-hang": (llm_hang, ("llm",)),
    "s3-snapshot-missing": (s3_snapshot_missing, ()),
    "provider-garbage": (provider_garbage, ("provider",)),
    "provider-5xx": (provider_5xx, ("provider",)),
    "provider-timeout": (provider_timeout, ("provider",)),
    "provider-5xx-persistent": (provider_down, ("provider", "redis")),
}


def run(lab: Lab, names: list[str] | None = None) -> list[Outcome]:
    """The experiments (all, or ``names``) in order; one that raises is a failed outcome, and the faults are
    cleared before the next."""
    outcomes = []
    for name in names or list(ALL):
        experiment, needs = ALL[name]
        missing = [n for n in needs if getattr(lab, n) is None]
        if missing:
            outcomes.append(Outcome(name, "-", "-", observed=f"this run has no {', '.join(missing)}", skipped=True))
            continue
        try:
            outcomes.append(experiment(lab))
        except Exception as exc:
            failed = Outcome(name, "-", "-")
            failed.check(False, f"raised {type(exc).__name__}: {exc}")
            outcomes.append(failed)
            lab.clear()
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    rows = [("experiment", "result", "recovery", "observed")]
    for o in outcomes:
        result = "SKIP" if o.skipped else "PASS" if o.ok else "FAIL"
        rows.append(
            (
                o.name,
                result,
                f"{o.recovery_s:.2f}s" if o.recovery_s is not None else "-",
                o.observed + ("" if o.ok else f"  PROBLEMS: {'; '.join(o.problems)}"),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [" | ".join([*(r[i].ljust(widths[i]) for i in range(3)), r[3]]) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths) + "-+-" + "-" * 40)
    return "\n".join(lines)
