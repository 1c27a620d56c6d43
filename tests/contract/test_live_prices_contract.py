"""template.yaml <-> the live prices: queues and their consumers, dead letters and alarms, permissions, and the
timing assumptions the exact feed rests on (domain/subscriptions.py)."""

from __future__ import annotations

from typing import Any

import pytest

from gpubroker.domain.subscriptions import FEED_RETENTION_S, REORDER_WINDOW_S, SNAPSHOT_MARGIN_S
from infra.local.template import read_app

APP = read_app()
RESOURCES: dict[str, Any] = APP.template["Resources"]
GLOBAL_TIMEOUT = int(APP.template["Globals"]["Function"].get("Timeout", 3))


def props(lid: str) -> dict[str, Any]:
    return dict(RESOURCES[lid]["Properties"])


def timeout(lid: str) -> int:
    return int(props(lid).get("Timeout", GLOBAL_TIMEOUT))


def events(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (lid, ev.get("Properties", {}))
        for lid in APP.functions
        for ev in (props(lid).get("Events") or {}).values()
        if ev["Type"] == kind
    ]


def statements(lid: str) -> list[dict[str, Any]]:
    out = []
    for policy in props(lid).get("Policies") or []:
        if isinstance(policy, dict) and "Statement" in policy:
            out += policy["Statement"]
    return out


def getatt(value: Any) -> str:
    return str(value["Fn::GetAtt"][0])


@pytest.mark.parametrize(("lid", "ep"), events("SQS"))
def test_a_queue_consumer_reports_its_failures_and_its_queue_dead_letters(lid: str, ep: dict[str, Any]) -> None:
    queue = props(getatt(ep["Queue"]))
    assert "ReportBatchItemFailures" in ep.get("FunctionResponseTypes", []), lid
    assert int(ep.get("ScalingConfig", {}).get("MaximumConcurrency", 0)) >= 2, lid
    assert int(queue["VisibilityTimeout"]) >= 6 * timeout(lid), "AWS: visibility >= 6x the consumer's Timeout"
    dead = getatt(queue["RedrivePolicy"]["deadLetterTargetArn"])
    assert RESOURCES[dead]["Type"] == "AWS::SQS::Queue" and int(queue["RedrivePolicy"]["maxReceiveCount"]) >= 2
    assert int(queue["MessageRetentionPeriod"]) > REORDER_WINDOW_S  # a late chunk is answered, not expired


@pytest.mark.parametrize(("lid", "ep"), events("DynamoDB"))
def test_a_stream_consumer_retries_bisects_and_dead_letters(lid: str, ep: dict[str, Any]) -> None:
    assert ep.get("BisectBatchOnFunctionError") is True and int(ep.get("MaximumRetryAttempts", -1)) >= 1, lid
    target = ep["DestinationConfig"]["OnFailure"]
    assert target["Type"] == "SQS" and RESOURCES[getatt(target["Destination"])]["Type"] == "AWS::SQS::Queue"


def dead_letter_queues() -> set[str]:
    out = {getatt(props(q)["RedrivePolicy"]["deadLetterTargetArn"]) for q in APP.resources("AWS::SQS::Queue")
           if "RedrivePolicy" in props(q)}  # fmt: skip
    out |= {getatt(ep["DestinationConfig"]["OnFailure"]["Destination"]) for _, ep in events("DynamoDB")
            if "DestinationConfig" in ep}  # fmt: skip
    return out


def test_every_dead_letter_queue_has_an_alarm() -> None:
    alarmed = {
        dim["Value"]["Fn::GetAtt"][0]
        for alarm in APP.resources("AWS::CloudWatch::Alarm").values()
        for dim in alarm["Properties"].get("Dimensions", [])
        if dim["Name"] == "QueueName" and isinstance(dim["Value"], dict) and "Fn::GetAtt" in dim["Value"]
    }
    assert dead_letter_queues() and dead_letter_queues() <= alarmed


@pytest.mark.parametrize("lid", sorted(APP.functions))
def test_who_posts_to_connections_may_and_who_queues_chunks_may(lid: str) -> None:
    env = APP.functions[lid].environment
    actions = {a for s in statements(lid) for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert ("WEBSOCKET_ENDPOINT" in env) == ("execute-api:ManageConnections" in actions), lid
    if "FANOUT_QUEUE_URL" in env:
        queue = env["FANOUT_QUEUE_URL"]["Ref"]
        sends = [p["SQSSendMessagePolicy"] for p in props(lid)["Policies"] if "SQSSendMessagePolicy" in p]
        assert {"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}} in sends, lid


def test_a_websocket_route_whose_function_posts_has_no_route_response() -> None:
    """Its replies are posted in order; a route response would arrive after them (and be a second reply)."""
    for route in APP.ws_routes:
        if "WEBSOCKET_ENDPOINT" in APP.functions[route.function].environment:
            assert not route.two_way, route


def test_the_timing_assumptions_of_the_exact_feed_hold() -> None:
    """A snapshot holds every write numbered more than SNAPSHOT_MARGIN_S before its ``created_at`` because the
    functions that publish snapshots run one at a time and finish (publish) within that margin; the replay buffer
    reaches further back than the margin and the reorder window together."""
    writes_snapshots = {"S3CrudPolicy": {"BucketName": {"Ref": "SnapshotBucket"}}}
    publishers = [lid for lid in APP.functions if writes_snapshots in (props(lid).get("Policies") or [])]
    assert publishers
    for lid in publishers:
        assert timeout(lid) <= SNAPSHOT_MARGIN_S and props(lid).get("ReservedConcurrentExecutions") == 1, lid
    assert FEED_RETENTION_S > SNAPSHOT_MARGIN_S + REORDER_WINDOW_S
    assert timeout("StreamPushPricesFunction") <= REORDER_WINDOW_S


def test_the_sweeper_runs_every_minute_one_at_a_time_and_may_scan_delete_and_close() -> None:
    """The heartbeat's other half: a connection silent for more than SILENCE_LIMIT_S is gone within one more
    schedule period, long before API Gateway's own idle timeout; a sweep ends before the next one starts."""
    from gpubroker.domain.subscriptions import APIGW_IDLE_TIMEOUT_S, HEARTBEAT_S, SILENCE_LIMIT_S
    from infra.local.scheduler import rate_seconds

    (sweep,) = [s for s in APP.schedules if s.function == "SweepConnectionsFunction"]
    period = rate_seconds(sweep.expression)
    assert sweep.expression == "rate(1 minute)" and period == 60
    assert SILENCE_LIMIT_S >= 3 * HEARTBEAT_S  # two lost pings are not silence
    assert SILENCE_LIMIT_S + period < APIGW_IDLE_TIMEOUT_S
    assert timeout("SweepConnectionsFunction") < period
    assert props("SweepConnectionsFunction").get("ReservedConcurrentExecutions") == 1
    allowed = {a: s["Resource"] for s in statements("SweepConnectionsFunction")
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}  # fmt: skip
    assert getatt(allowed["dynamodb:Scan"]) == getatt(allowed["dynamodb:DeleteItem"]) == "ConnectionsTable"
    assert "/DELETE/@connections/*" in allowed["execute-api:ManageConnections"]["Fn::Sub"]


def test_the_heartbeat_and_the_token_check_may_do_what_they_do() -> None:
    """``ping`` records ``last_seen``; ``$connect`` reads the published keys and the sessions, as the authorizer."""
    ping = {a for s in statements("WsPingFunction") for a in ([s["Action"]] if isinstance(s["Action"], str)
                                                               else s["Action"])}  # fmt: skip
    assert ping == {"dynamodb:UpdateItem"}
    connect = props("WsConnectFunction")
    assert connect["Environment"]["Variables"]["AUTH_TABLE"] == {"Ref": "AuthTable"}
    authorizer = props("AuthorizerFunction")["Policies"]
    assert {"SSMParameterReadPolicy": {"ParameterName": {"Ref": "PublicKeysParameter"}}} in authorizer
    # the authorizer's read access to the FIS configuration is its own as an FIS experiment's target (ChaosEnabled)
    fis_target = {"Fn::If": ["ChaosOn", {"Ref": "FisConfigReadPolicy"}, {"Ref": "AWS::NoValue"}]}
    assert fis_target in authorizer
    assert all(p in connect["Policies"] for p in authorizer if p != fis_target)


def test_the_local_stack_fires_the_sweeper_every_minute() -> None:
    from pathlib import Path

    from infra.local.scheduler import Scheduler

    scheduler = Scheduler(APP, lambda f, e: None, catalogs=Path("/nonexistent"))
    planned = {(s.function, seconds) for s, seconds, _ in scheduler.plan()}
    assert ("SweepConnectionsFunction", 60.0) in planned


def test_the_actions_a_client_is_told_are_the_websocket_route_keys() -> None:
    """``$default`` answers an unknown action with the list of actions (domain.subscriptions.ACTIONS)."""
    from gpubroker.domain.subscriptions import ACTIONS

    assert sorted(r.route_key for r in APP.ws_routes) == sorted({"$connect", "$disconnect", "$default", *ACTIONS})
