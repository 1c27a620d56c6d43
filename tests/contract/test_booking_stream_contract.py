"""The booking status pushes' infrastructure: BookingsTable streams both images to StreamPushBookingsFunction, whose
policy reaches the owner's connections and nothing of the bookings (no table, no key: the images are enough and the
connection details are never opened)."""

from __future__ import annotations

import json

from tests.contract.test_live_prices_contract import APP, RESOURCES, events, props, statements

FN = "StreamPushBookingsFunction"


def test_the_bookings_table_streams_both_images_to_the_pusher() -> None:
    assert RESOURCES["BookingsTable"]["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    (ep,) = [ep for lid, ep in events("DynamoDB") if lid == FN]
    assert ep["Stream"] == {"Fn::GetAtt": ["BookingsTable", "StreamArn"]}
    assert ep["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert [t.function for t in APP.stream_triggers if t.table == "BookingsTable"] == [FN]  # the local stack polls it


def test_the_pusher_reaches_connections_only() -> None:
    assert set(APP.functions[FN].environment) == {"CONNECTIONS_TABLE", "WEBSOCKET_ENDPOINT"}
    actions = {a for s in statements(FN) for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"dynamodb:Query", "dynamodb:DeleteItem", "execute-api:ManageConnections"}
    policy = json.dumps(props(FN)["Policies"])
    assert "BookingsTable" not in policy and "kms" not in policy.lower() and "by_user" in policy
