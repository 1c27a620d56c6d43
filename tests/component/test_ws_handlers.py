"""The WebSocket route handlers and the broadcaster: real API Gateway / DynamoDB Streams event JSON in,
in-memory fakes for the connections table and the management API."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from gpubroker.domain.providers import COMPLIANCE_TAGS
from gpubroker.domain.subscriptions import SNAPSHOT_PAGE_SIZE, SubscriptionFilters
from gpubroker.services.offer_filters import normalise_filters
from gpubroker.services.search import SnapshotCache
from gpumath.columns import OfferColumns
from tests.component.conftest import handler_module
from tests.events import Ctx
from tests.fakes import V1, V2, FixedClock, MemorySnapshotStore
from tests.fakes_live import MemoryConnections, MemoryFanout, MemoryFeed, MemoryPoster, offer, publish

# what API Gateway sends (captured shapes; ids shortened)
CONNECT_EVENT: dict[str, Any] = {
    "headers": {"Host": "abc123.execute-api.us-east-1.amazonaws.com", "Sec-WebSocket-Version": "13"},
    "multiValueHeaders": {"Host": ["abc123.execute-api.us-east-1.amazonaws.com"], "Sec-WebSocket-Version": ["13"]},
    "requestContext": {
        "routeKey": "$connect",
        "eventType": "CONNECT",
        "extendedRequestId": "KZ3tBFJ0IAMFbRw=",
        "requestTime": "26/Nov/2026:12:00:00 +0000",
        "messageDirection": "IN",
        "stage": "dev",
        "connectedAt": 1795694400000,
        "requestTimeEpoch": 1795694400000,
        "identity": {"sourceIp": "203.0.113.9", "userAgent": "python-websockets/17"},
        "requestId": "KZ3tBFJ0IAMFbRw=",
        "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
        "connectionId": "KZ3tBdOmIAMCKWg=",
        "apiId": "abc123",
    },
    "isBase64Encoded": False,
}


def message_event(route_key: str, body: str, connection_id: str = "KZ3tBdOmIAMCKWg=") -> dict[str, Any]:
    ev = copy.deepcopy(CONNECT_EVENT)
    for k in ("headers", "multiValueHeaders"):
        ev.pop(k)
    ev["requestContext"].update(
        routeKey=route_key, eventType="MESSAGE", messageId="KZ3ucdNDoAMCKWg=", connectionId=connection_id
    )
    ev["body"] = body
    return ev


def disconnect_event(connection_id: str = "KZ3tBdOmIAMCKWg=") -> dict[str, Any]:
    ev = copy.deepcopy(CONNECT_EVENT)
    ev["requestContext"].update(
        routeKey="$disconnect",
        eventType="DISCONNECT",
        connectionId=connection_id,
        disconnectStatusCode=1001,
        disconnectReason="Going away",
    )
    return ev


def subscribe_deps(mod: Any, **kw: Any) -> Any:
    store = MemorySnapshotStore()
    publish(store, kw.pop("offers", []), V1, kw.pop("created_at", "2026-11-26T11:00:00+00:00"))
    base = {"connections": MemoryConnections(), "feed": MemoryFeed(), "snapshots": SnapshotCache(store),
            "poster": MemoryPoster(), "clock": FixedClock()}  # fmt: skip
    return mod.Deps(**{**base, **kw})


def filters(**kw: Any) -> Any:
    return normalise_filters(SubscriptionFilters.model_validate(kw).filters())


def test_subscribe_stores_canonical_filters_and_posts_subscribed_then_the_snapshot() -> None:
    """The first protocol's names and any GPU spelling GET /offers accepts; the replies are posted in order."""
    mod = handler_module("ws_subscribe")
    offers = [offer(f"runpod-{i:03d}", 1.0 + i / 100, region="europe-central-1") for i in range(SNAPSHOT_PAGE_SIZE + 5)]
    offers += [offer("runpod-vanished", 0.5, available=False), offer("vast-4090", 0.3, gpu_model="RTX-4090")]
    deps = subscribe_deps(mod, offers=offers)
    body = json.dumps({"action": "subscribe", "filters": {"gpu_model": "h100-sxm", "region": "EUROPE-CENTRAL-1"}})
    out = mod.lambda_handler(message_event("subscribe", body), Ctx(), deps=deps)
    assert out == {"statusCode": 200}  # no route response: every reply was posted
    sent = deps.poster.sent["KZ3tBdOmIAMCKWg="]
    assert [m["type"] for m in sent] == ["subscribed", "snapshot", "snapshot"]
    assert sent[0] == {"type": "subscribed", "filters": {"gpu": ["H100-SXM"], "region": ["europe-central-1"]},
                       "seq": 0}  # fmt: skip
    first, second = sent[1], sent[2]
    assert first["count"] == SNAPSHOT_PAGE_SIZE + 5 and first["more"] and not second["more"]
    assert (first["page"], second["page"]) == (1, 2) and second["next_cursor"] is None
    ids = [o["offer_id"] for o in first["offers"] + second["offers"]]
    assert ids == [f"runpod-{i:03d}" for i in range(SNAPSHOT_PAGE_SIZE + 5)]  # cheapest first, none vanished
    assert set(first["offers"][0]) == {"offer_id", "provider", "gpu_model", "gpu_count", "region", "price_per_hour",
                                       "price_per_gpu_hour"}  # fmt: skip
    assert deps.connections.items["KZ3tBdOmIAMCKWg="]["sub_key"] == "gpu#H100-SXM"


def test_a_large_snapshot_stops_after_its_pages_with_a_cursor_for_get_offers() -> None:
    mod = handler_module("ws_subscribe")
    offers = [offer(f"runpod-{i:04d}", 1.0 + i / 1000) for i in range(SNAPSHOT_PAGE_SIZE * 5 + 1)]
    deps = subscribe_deps(mod, offers=offers)
    mod.lambda_handler(message_event("subscribe", '{"action": "subscribe"}'), Ctx(), deps=deps)
    pages = [m for m in deps.poster.sent["KZ3tBdOmIAMCKWg="] if m["type"] == "snapshot"]
    assert len(pages) == 5 and pages[-1]["more"] is False and pages[-1]["next_cursor"]
    app = handler_module("api_list_offers")  # the cursor continues through GET /offers with the same filters
    from gpubroker.domain.search import OfferQuery
    from gpubroker.services.search import search_offers

    rest = search_offers(OfferQuery(sort="price_per_gpu_hour", limit=10, cursor=pages[-1]["next_cursor"]),
                         snapshots=deps.snapshots)  # fmt: skip
    assert [o.offer_id for o in rest.items] == [f"runpod-{SNAPSHOT_PAGE_SIZE * 5:04d}"] and app is not None


def test_changes_the_snapshot_may_miss_are_replayed_after_it() -> None:
    """A change numbered after the snapshot's run began follows the snapshot, numbered above it."""
    mod = handler_module("ws_subscribe")
    clock = FixedClock()
    feed = MemoryFeed()
    from gpubroker.domain.subscriptions import OfferChange

    before = OfferChange("runpod-a", None, offer("runpod-a", 1.0), clock.now())
    old = feed.append([before], at=clock.now() - timedelta(minutes=10))  # older than the snapshot's run: in it
    fresh = OfferChange("runpod-a", offer("runpod-a", 1.0), offer("runpod-a", 1.2), clock.now())
    feed.append([fresh], at=clock.now() - timedelta(minutes=2))  # after its run began: maybe not
    created = (clock.now() - timedelta(minutes=5)).isoformat()
    deps = subscribe_deps(mod, offers=[offer("runpod-a", 1.0)], feed=feed, clock=clock, created_at=created)
    mod.lambda_handler(message_event("subscribe", '{"action": "subscribe"}'), Ctx(), deps=deps)
    sent = deps.poster.sent["KZ3tBdOmIAMCKWg="]
    assert [m["type"] for m in sent] == ["subscribed", "snapshot", "price"] and old == 1
    assert sent[1]["seq"] == 1 and sent[2]["seq"] == 2 and sent[2]["new_price"] == 1.2


def test_resume_replays_what_was_missed_or_resyncs() -> None:
    from gpubroker.domain.subscriptions import OfferChange

    mod = handler_module("ws_subscribe")
    clock = FixedClock()
    feed = MemoryFeed()
    for i, price in enumerate([1.1, 1.2, 1.3]):
        change = OfferChange("runpod-a", offer("runpod-a", price - 0.1), offer("runpod-a", price), clock.now())
        feed.append([change], at=clock.now() - timedelta(minutes=10 - 2 * i))
    deps = subscribe_deps(mod, offers=[offer("runpod-a", 1.3)], feed=feed, clock=clock)
    resume = json.dumps({"action": "subscribe", "filters": {"provider": "runpod"}, "resume_from": 2})
    mod.lambda_handler(message_event("subscribe", resume), Ctx(), deps=deps)
    sent = deps.poster.sent.pop("KZ3tBdOmIAMCKWg=")
    # from the reorder window before seq 2: 2 again (harmless, same seq) and 3
    assert [(m["type"], m.get("seq")) for m in sent] == [("subscribed", 3), ("price", 2), ("price", 3)]
    clock.advance(3600)  # the buffer no longer reaches back to seq 2
    mod.lambda_handler(message_event("subscribe", resume), Ctx(), deps=deps)
    sent = deps.poster.sent.pop("KZ3tBdOmIAMCKWg=")
    assert [m["type"] for m in sent] == ["subscribed", "resync", "snapshot"]
    assert sent[1]["resubscribe"] is False and "older than the replay buffer" in sent[1]["reason"]


def test_a_catalog_only_provider_can_be_subscribed_to_once_the_snapshot_registers_it() -> None:
    mod = handler_module("ws_subscribe")
    deps = subscribe_deps(mod)
    body = json.dumps({"action": "subscribe", "filters": {"provider": "nebius"}})
    mod.lambda_handler(message_event("subscribe", body), Ctx(), deps=deps)
    (refused,) = deps.poster.sent.pop("KZ3tBdOmIAMCKWg=")
    assert (refused["type"], refused["code"]) == ("error", "validation_error")
    assert "KZ3tBdOmIAMCKWg=" not in deps.connections.items or not deps.connections.items["KZ3tBdOmIAMCKWg="].get(
        "sub_key"
    )
    store = MemorySnapshotStore()  # the next snapshot registers it (what `make ingest PROVIDER=nebius` publishes)
    meta = {"version": V2, "created_at": "2026-11-26T11:00:00+00:00",
            "registry": {"nebius": {"display_name": "Nebius"}}}  # fmt: skip
    cols = OfferColumns.from_records([], compliance_vocab=COMPLIANCE_TAGS, meta=meta)
    store.publish(V2, cols.to_bytes(), dict(cols.meta))
    deps = subscribe_deps(mod, snapshots=SnapshotCache(store))
    mod.lambda_handler(message_event("subscribe", body), Ctx(), deps=deps)
    sent = deps.poster.sent["KZ3tBdOmIAMCKWg="]
    assert sent[0]["type"] == "subscribed" and sent[0]["filters"] == {"provider": ["nebius"]}
    assert deps.connections.items["KZ3tBdOmIAMCKWg="]["sub_key"] == "provider#nebius"


def test_bad_subscriptions_get_an_error_message_not_a_crash() -> None:
    mod = handler_module("ws_subscribe")
    deps = subscribe_deps(mod)
    for body, code in [
        ('{"action": "subscribe", "filters": {"provider": "nope"}}', "validation_error"),
        ('{"action": "subscribe", "filters": {"gpu_model": "warp-drive"}}', "validation_error"),
        ('{"action": "subscribe", "filters": {"max_price_per_gpu_hour": -2}}', "validation_error"),
        ('{"action": "subscribe", "filters": {"colour": "red"}}', "validation_error"),
        ('{"action": "subscribe", "filters": []}', "validation_error"),
        ("{not json", "invalid_json"),
        ("", "invalid_json"),
    ]:
        out = mod.lambda_handler(message_event("subscribe", body), Ctx(), deps=deps)
        reply = deps.poster.sent.pop("KZ3tBdOmIAMCKWg=")
        assert out == {"statusCode": 200} and len(reply) == 1, body
        assert reply[0]["type"] == "error" and reply[0]["code"] == code and reply[0]["message"], body
    assert deps.connections.items == {}


def test_ping_pongs_with_the_server_time() -> None:
    mod = handler_module("ws_ping")
    conns = MemoryConnections(items={"KZ3tBdOmIAMCKWg=": {}})
    out = mod.lambda_handler(message_event("ping", '{"action": "ping"}'), Ctx(),
                             deps=mod.Deps(connections=conns, clock=FixedClock()))  # fmt: skip
    assert json.loads(out["body"]) == {"type": "pong", "ts": "2026-11-26T12:00:00.000Z"}


def test_disconnect_forgets_the_connection() -> None:
    mod = handler_module("ws_disconnect")
    conns = MemoryConnections(items={"KZ3tBdOmIAMCKWg=": {}, "other": {}})
    assert mod.lambda_handler(disconnect_event(), Ctx(), deps=mod.Deps(connections=conns)) == {"statusCode": 200}
    assert set(conns.items) == {"other"}


def _image(
    offer_id: str, price: float, *, gpu: str = "H100-SXM", provider: str = "runpod", **kw: Any
) -> dict[str, Any]:
    """An offer as its stream image (DynamoDB JSON)."""
    plain = offer(offer_id, price, gpu_model=gpu, provider=provider, **kw)
    typed = json.loads(json.dumps(plain), parse_float=Decimal)
    return {k: TypeSerializer().serialize(v) for k, v in typed.items()}


def stream_record(
    name: str, old: dict[str, Any] | None, new: dict[str, Any] | None, seq: int, at: float = 1795694400.25
) -> dict[str, Any]:
    ddb: dict[str, Any] = {
        "ApproximateCreationDateTime": at,
        "Keys": {"offer_id": (new or old or {})["offer_id"]},
        "SequenceNumber": str(seq).rjust(21, "0"),
        "SizeBytes": 512,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old is not None:
        ddb["OldImage"] = old
    if new is not None:
        ddb["NewImage"] = new
    return {
        "eventID": f"e{seq}",
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": ddb,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/offers/stream/2026-11-26T00:00:00.000",
    }


AT = datetime(2026, 11, 26, tzinfo=UTC)


def broadcast_deps(mod: Any, **kw: Any) -> Any:
    base = {"connections": MemoryConnections(), "poster": MemoryPoster(), "feed": MemoryFeed(),
            "fanout": MemoryFanout(), "concurrency": 4, "clock": FixedClock()}  # fmt: skip
    return mod.Deps(**{**base, **kw})


def subscribed(deps: Any, **subs: dict[str, Any]) -> None:
    for cid, f in subs.items():
        deps.connections.subscribe(cid, filters(**f), at=AT)


EVENT = {
    "Records": [
        stream_record("MODIFY", _image("runpod-a", 2.5), _image("runpod-a", 2.4), 1),
        stream_record("INSERT", None, _image("runpod-b", 1.9), 2),
        stream_record("MODIFY", _image("runpod-a", 2.4), _image("runpod-a", 1.8), 3),
        stream_record("MODIFY", _image("runpod-c", 3.0), _image("runpod-c", 3.0), 4),  # nothing visible changed
        stream_record("MODIFY", _image("runpod-d", 1.5), _image("runpod-d", 2.2), 5),  # above the 2.0 ceiling
        stream_record("REMOVE", _image("runpod-e", 3.0), None, 6),
    ]
}


def test_broadcaster_numbers_changes_and_sends_each_subscriber_its_own_in_order() -> None:
    mod = handler_module("stream_push_prices")
    deps = broadcast_deps(mod)
    subscribed(deps, h100={"gpu_model": "h100-sxm"}, cheap={"max_price_per_gpu_hour": 2.0}, vast={"provider": "vast"},
               gone={})  # fmt: skip
    deps.connections.connect("idle", at=AT, user_id=None)  # connected, never subscribed: hears nothing
    deps.poster.gone.add("gone")
    report = mod.lambda_handler(EVENT, Ctx(), deps=deps)
    assert deps.feed.head() == 5 and report["first_seq"] == 1 and report["changes"] == 5
    assert deps.poster.changes("h100") == [
        ("price", 1, "runpod-a", 2.5, 2.4),
        ("price", 2, "runpod-b", None, 1.9),
        ("price", 3, "runpod-a", 2.4, 1.8),
        ("price", 4, "runpod-d", 1.5, 2.2),
        ("removed", 5, "runpod-e", 3.0, "deleted"),
    ]
    assert [m["type"] for m in deps.poster.frames["h100"]] == ["batch"]  # one post per connection per delivery
    assert all(m["ts"] == "2026-11-26T12:00:00.250Z" for m in deps.poster.sent["h100"])
    assert deps.poster.changes("cheap") == [
        ("price", 2, "runpod-b", None, 1.9),
        ("price", 3, "runpod-a", 2.4, 1.8),  # entered under the ceiling
        ("removed", 4, "runpod-d", 1.5, "filtered"),  # left it: no client keeps 1.5
    ]
    assert "vast" not in deps.poster.sent and "idle" not in deps.poster.sent
    assert "gone" not in deps.connections.items and report["gone"] == ["gone"]
    assert sorted(set(deps.connections.queried)) == ["all", "gpu#H100-SXM", "provider#runpod"]


def test_many_subscribers_go_through_the_fanout_queue_and_the_workers_deliver_the_same() -> None:
    """Past ``direct_limit`` connections the broadcaster queues chunks; the worker posts exactly what a direct
    delivery would have, and reports a chunk whose posts failed so SQS brings it back."""
    mod, worker = handler_module("stream_push_prices"), handler_module("queue_push_prices")
    direct = broadcast_deps(mod, direct_limit=1000)
    queued = broadcast_deps(mod, direct_limit=2, chunk_size=2)
    for deps in (direct, queued):
        subscribed(deps, a={"gpu": "H100-SXM"}, b={"max_price_per_gpu_hour": 2.0}, c={}, d={"region": "us"}, e={})
    mod.lambda_handler(EVENT, Ctx(), deps=direct)
    report = mod.lambda_handler(EVENT, Ctx(), deps=queued)
    assert report["chunks"] == 3 and len(queued.fanout.sent) == 3 and queued.poster.sent == {}
    records = [{"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": body, "attributes": {},
                "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:fanout", "awsRegion": "us-east-1"}
               for i, body in enumerate(queued.fanout.sent)]  # fmt: skip
    wdeps = worker.Deps(connections=queued.connections, poster=queued.poster, clock=FixedClock())
    queued.poster.fail.add("c")
    out = worker.lambda_handler({"Records": records}, Ctx(), deps=wdeps)
    failed = [r["body"] for r in records if r["messageId"] in {f["itemIdentifier"] for f in out["batchItemFailures"]}]
    assert len(failed) == 1 and '"c"' in failed[0]
    assert {k: v for k, v in queued.poster.sent.items()} == {k: v for k, v in direct.poster.sent.items() if k != "c"}


def test_broadcaster_with_nothing_to_say_reads_nothing() -> None:
    mod = handler_module("stream_push_prices")
    deps = broadcast_deps(mod)
    event = {"Records": [stream_record("MODIFY", _image("runpod-d", 3.0), _image("runpod-d", 3.0, stale=True), 1)]}
    report = mod.lambda_handler(event, Ctx(), deps=deps)
    assert report["changes"] == 0 and deps.connections.queried == [] and deps.feed.head() == 0
