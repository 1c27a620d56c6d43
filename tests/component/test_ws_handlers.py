"""The WebSocket route handlers and the broadcaster: real API Gateway / DynamoDB Streams event JSON in,
in-memory fakes for the connections table and the management API."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gpubroker.domain.subscriptions import SubscriptionFilters, sub_key
from tests.component.conftest import handler_module
from tests.events import Ctx
from tests.fakes import FixedClock, MemorySnapshotStore

# what API Gateway sends (captured shapes; ids shortened)
CONNECT_EVENT: dict[str, Any] = {
    "headers": {"Host": "abc123.execute-api.us-east-1.amazonaws.com", "Sec-WebSocket-Version": "13"},
    "multiValueHeaders": {"Host": ["abc123.execute-api.us-east-1.amazonaws.com"], "Sec-WebSocket-Version": ["13"]},
    "queryStringParameters": {"token": "opaque-token"},
    "multiValueQueryStringParameters": {"token": ["opaque-token"]},
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
    for k in ("headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters"):
        ev.pop(k)
    ev["requestContext"].update(
        routeKey=route_key, eventType="MESSAGE", messageId="KZ3ucdNDoAMCKWg=", connectionId=connection_id
    )
    ev["body"] = body
    return ev


def disconnect_event(connection_id: str = "KZ3tBdOmIAMCKWg=") -> dict[str, Any]:
    ev = copy.deepcopy(CONNECT_EVENT)
    ev.pop("queryStringParameters")
    ev.pop("multiValueQueryStringParameters")
    ev["requestContext"].update(
        routeKey="$disconnect",
        eventType="DISCONNECT",
        connectionId=connection_id,
        disconnectStatusCode=1001,
        disconnectReason="Going away",
    )
    return ev


@dataclass
class MemoryConnections:
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    queried: list[str] = field(default_factory=list)

    def connect(self, connection_id: str, *, at: datetime, token: str | None) -> None:
        self.items[connection_id] = {"connected_at": at, "token": token}

    def subscribe(self, connection_id: str, filters: SubscriptionFilters, *, at: datetime) -> None:
        self.items.setdefault(connection_id, {}).update(filters=filters, sub_key=sub_key(filters))

    def delete(self, connection_id: str) -> None:
        self.items.pop(connection_id, None)

    def subscribers(self, keys: Iterable[str]) -> list[tuple[str, SubscriptionFilters]]:
        wanted = set(keys)
        self.queried += sorted(wanted)
        return [(cid, i["filters"]) for cid, i in sorted(self.items.items()) if i.get("sub_key") in wanted]


@dataclass
class MemoryPoster:
    gone: set[str] = field(default_factory=set)
    sent: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def post(self, connection_id: str, data: bytes) -> bool:
        if connection_id in self.gone:
            return False
        self.sent.setdefault(connection_id, []).append(json.loads(data))
        return True


def test_connect_stores_the_connection_and_its_token() -> None:
    mod = handler_module("ws_connect")
    conns = MemoryConnections()
    out = mod.lambda_handler(CONNECT_EVENT, Ctx(), deps=mod.Deps(connections=conns, clock=FixedClock()))
    assert out == {"statusCode": 200}
    assert conns.items["KZ3tBdOmIAMCKWg="]["token"] == "opaque-token"
    anonymous = copy.deepcopy(CONNECT_EVENT)
    anonymous["queryStringParameters"] = None
    anonymous["requestContext"]["connectionId"] = "anon"
    assert (
        mod.lambda_handler(anonymous, Ctx(), deps=mod.Deps(connections=conns, clock=FixedClock()))["statusCode"] == 200
    )
    assert conns.items["anon"]["token"] is None


def test_subscribe_validates_and_replies() -> None:
    mod = handler_module("ws_subscribe")
    conns = MemoryConnections()
    deps = mod.Deps(connections=conns, clock=FixedClock(), snapshots=MemorySnapshotStore())
    good = json.dumps({"action": "subscribe", "filters": {"gpu_model": "H100-SXM", "max_price_per_gpu_hour": 3}})
    out = mod.lambda_handler(message_event("subscribe", good), Ctx(), deps=deps)
    assert out["statusCode"] == 200
    assert json.loads(out["body"]) == {
        "type": "subscribed",
        "filters": {"gpu_model": "H100-SXM", "max_price_per_gpu_hour": 3.0},
    }
    assert conns.items["KZ3tBdOmIAMCKWg="]["sub_key"] == "gpu#H100-SXM"


def test_a_catalog_only_provider_can_be_subscribed_to_once_the_snapshot_registers_it() -> None:
    mod = handler_module("ws_subscribe")
    conns, snapshots = MemoryConnections(), MemorySnapshotStore()
    deps = mod.Deps(connections=conns, clock=FixedClock(), snapshots=snapshots)
    body = json.dumps({"action": "subscribe", "filters": {"provider": "nebius"}})
    assert json.loads(mod.lambda_handler(message_event("subscribe", body), Ctx(), deps=deps)["body"])["type"] == "error"
    snapshots.latest = {"version": "v1", "providers": {}, "registry": {"nebius": {"display_name": "Nebius"}}}
    reply = json.loads(mod.lambda_handler(message_event("subscribe", body), Ctx(), deps=deps)["body"])
    assert reply == {"type": "subscribed", "filters": {"provider": "nebius"}}
    assert conns.items["KZ3tBdOmIAMCKWg="]["sub_key"] == "provider#nebius"


def test_bad_subscriptions_get_an_error_message_not_a_crash() -> None:
    mod = handler_module("ws_subscribe")
    conns = MemoryConnections()
    deps = mod.Deps(connections=conns, clock=FixedClock(), snapshots=MemorySnapshotStore())
    for body, code in [
        ('{"action": "subscribe", "filters": {"provider": "nope"}}', "validation_error"),
        ('{"action": "subscribe", "filters": {"provider": "Not A Name"}}', "validation_error"),
        ('{"action": "subscribe", "filters": {"max_price_per_gpu_hour": -2}}', "validation_error"),
        ('{"action": "subscribe", "filters": {"colour": "red"}}', "validation_error"),
        ('{"action": "subscribe", "filters": []}', "validation_error"),
        ("{not json", "invalid_json"),
        ("", "invalid_json"),
    ]:
        out = mod.lambda_handler(message_event("subscribe", body), Ctx(), deps=deps)
        reply = json.loads(out["body"])
        assert out["statusCode"] == 200 and reply["type"] == "error" and reply["code"] == code, body
        assert reply["message"]
    assert conns.items == {}


def test_ping_pongs_with_the_server_time() -> None:
    mod = handler_module("ws_ping")
    out = mod.lambda_handler(message_event("ping", '{"action": "ping"}'), Ctx(), deps=mod.Deps(clock=FixedClock()))
    assert json.loads(out["body"]) == {"type": "pong", "ts": "2026-11-26T12:00:00.000Z"}


def test_disconnect_forgets_the_connection() -> None:
    mod = handler_module("ws_disconnect")
    conns = MemoryConnections(items={"KZ3tBdOmIAMCKWg=": {}, "other": {}})
    assert mod.lambda_handler(disconnect_event(), Ctx(), deps=mod.Deps(connections=conns)) == {"statusCode": 200}
    assert set(conns.items) == {"other"}


def _image(offer_id: str, price: float, *, gpu: str = "H100-SXM", provider: str = "runpod") -> dict[str, Any]:
    return {
        "offer_id": {"S": offer_id},
        "provider": {"S": provider},
        "gpu_model": {"S": gpu},
        "region": {"S": "US"},
        "price_per_hour": {"N": str(price * 8)},
        "price_per_gpu_hour": {"N": str(price)},
        "gpu_count": {"N": "8"},
        "available": {"BOOL": True},
    }


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


def test_broadcaster_sends_matching_changes_in_order_and_drops_gone_connections() -> None:
    mod = handler_module("stream_push_prices")
    conns = MemoryConnections()
    at = datetime(2026, 11, 26, tzinfo=UTC)
    conns.subscribe("h100", SubscriptionFilters(gpu_model="H100-SXM"), at=at)
    conns.subscribe("cheap", SubscriptionFilters(max_price_per_gpu_hour=2.0), at=at)
    conns.subscribe("vast", SubscriptionFilters(provider="vast"), at=at)
    conns.subscribe("gone", SubscriptionFilters(), at=at)
    conns.connect("idle", at=at, token=None)  # connected, never subscribed: hears nothing
    poster = MemoryPoster(gone={"gone"})
    event = {
        "Records": [
            stream_record("MODIFY", _image("runpod-a", 2.5), _image("runpod-a", 2.4), 1),
            stream_record("INSERT", None, _image("runpod-b", 1.9), 2),
            stream_record("MODIFY", _image("runpod-a", 2.4), _image("runpod-a", 1.8), 3),
            stream_record("MODIFY", _image("runpod-c", 3.0), _image("runpod-c", 3.0), 4),  # price unchanged
            stream_record("REMOVE", _image("runpod-d", 3.0), None, 5),
        ]
    }
    report = mod.lambda_handler(event, Ctx(), deps=mod.Deps(connections=conns, poster=poster, concurrency=4))
    h100 = poster.sent["h100"]
    assert [(m["offer_id"], m["old_price"], m["new_price"]) for m in h100] == [
        ("runpod-a", 2.5, 2.4),
        ("runpod-b", None, 1.9),
        ("runpod-a", 2.4, 1.8),
    ]
    assert all(m["type"] == "price" and m["ts"] == "2026-11-26T12:00:00.250Z" for m in h100)
    assert [m["new_price"] for m in poster.sent["cheap"]] == [1.9, 1.8]
    assert "vast" not in poster.sent and "idle" not in poster.sent
    assert "gone" not in conns.items and report["gone"] == ["gone"]
    assert report["sent"] == 5 and report["changes"] == 3
    assert sorted(set(conns.queried)) == ["all", "gpu#H100-SXM", "provider#runpod"]


def test_broadcaster_with_nothing_to_say_reads_nothing() -> None:
    mod = handler_module("stream_push_prices")
    conns = MemoryConnections()
    event = {"Records": [stream_record("REMOVE", _image("runpod-d", 3.0), None, 1)]}
    report = mod.lambda_handler(event, Ctx(), deps=mod.Deps(connections=conns, poster=MemoryPoster()))
    assert report["changes"] == 0 and conns.queried == []
