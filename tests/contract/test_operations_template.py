"""template.yaml and samconfig.toml are operable (issue 16): every log group has a retention and every log of the
stack goes to one of them, access logs carry no token or cookie, every stateful resource survives a stack
deletion, every dead-letter queue and business alarm pages through the SNS topic, the REST stage never throttles a
plan below its documented rate, and prod has its own issuer and takes Redis from Secrets Manager."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

from gpubroker.domain.plans import RATE_LIMITS
from infra.local.template import ROOT, load_template, read_app

TEMPLATE: dict[str, Any] = read_app().template
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
STATEFUL = {
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::SecretsManager::Secret",
    "AWS::KMS::Key",
    "AWS::SQS::Queue",
}
CHAOS_STOP_CONDITIONS = {"Api5xxAlarm", "BreakerOpenAlarm", "SagaFailuresAlarm", "LambdaErrorsAlarm"}


def of_type(type_: str) -> dict[str, Any]:
    return {lid: r for lid, r in RESOURCES.items() if r["Type"] == type_}


def ref(value: Any) -> str | None:
    """The logical id a ``!Ref X`` or ``!GetAtt X.Attr`` names."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else target.split(".")[0])
    return None


def test_every_log_group_has_a_retention() -> None:
    groups = of_type("AWS::Logs::LogGroup")
    assert groups
    for lid, group in groups.items():
        assert (group.get("Properties") or {}).get("RetentionInDays"), f"{lid} keeps its logs forever"


def test_every_log_of_the_stack_goes_to_a_log_group_of_the_template() -> None:
    groups = set(of_type("AWS::Logs::LogGroup"))
    default = TEMPLATE["Globals"]["Function"]["LoggingConfig"]["LogGroup"]
    assert ref(default) in groups  # without it, Lambda creates /aws/lambda/<name> with no retention
    for lid, fn in of_type("AWS::Serverless::Function").items():
        own = (fn["Properties"].get("LoggingConfig") or {}).get("LogGroup")
        assert own is None or ref(own) in groups, lid
    for lid, machine in of_type("AWS::Serverless::StateMachine").items():
        destinations = machine["Properties"]["Logging"]["Destinations"]
        assert all(ref(d["CloudWatchLogsLogGroup"]["LogGroupArn"]) in groups for d in destinations), lid
    (api,) = of_type("AWS::Serverless::Api").values()
    assert ref(api["Properties"]["AccessLogSetting"]["DestinationArn"]) in groups
    for lid, stage in of_type("AWS::ApiGatewayV2::Stage").items():
        assert ref(stage["Properties"]["AccessLogSettings"]["DestinationArn"]) in groups, lid


def test_access_logs_carry_no_token_cookie_header_or_query_string() -> None:
    (api,) = of_type("AWS::Serverless::Api").values()
    formats = [api["Properties"]["AccessLogSetting"]["Format"]]
    formats += [s["Properties"]["AccessLogSettings"]["Format"] for s in of_type("AWS::ApiGatewayV2::Stage").values()]
    for text in formats:
        variables = re.findall(r"\$context\.[A-Za-z0-9_.]+", text)
        assert variables and "$context.requestId" in variables
        for v in variables:
            assert not re.search(r"token|cookie|authorization|header|querystring|requestOverride|body", v, re.I), v


def test_every_stateful_resource_is_retained_on_delete_and_replace() -> None:
    stateful = {lid: r for lid, r in RESOURCES.items() if r["Type"] in STATEFUL}
    assert len(stateful) >= 20
    for lid, r in stateful.items():
        assert (r.get("DeletionPolicy"), r.get("UpdateReplacePolicy")) == ("Retain", "Retain"), lid


def _dead_letter_queues() -> set[str]:
    """Queues that receive what failed for good: redrive targets, event-source OnFailure destinations, and the
    queues named as dead-letter queues."""
    found = {lid for lid in of_type("AWS::SQS::Queue") if "DeadLetter" in lid}
    for r in of_type("AWS::SQS::Queue").values():
        target = ((r.get("Properties") or {}).get("RedrivePolicy") or {}).get("deadLetterTargetArn")
        if target is not None:
            found.add(str(ref(target)))
    for fn in of_type("AWS::Serverless::Function").values():
        for event in (fn["Properties"].get("Events") or {}).values():
            destination = ((event.get("Properties") or {}).get("DestinationConfig") or {}).get("OnFailure") or {}
            if "Destination" in destination:
                found.add(str(ref(destination["Destination"])))
    return found


def _pages(alarm: dict[str, Any]) -> bool:
    return any(ref(a) == "AlarmTopic" for a in alarm["Properties"].get("AlarmActions") or [])


def test_every_dead_letter_queue_pages_as_soon_as_it_holds_a_message() -> None:
    queues = _dead_letter_queues()
    assert {"BookingDeadLetterQueue", "LivePricesDeadLetterQueue", "BookingPushDeadLetterQueue"} <= queues
    alarms = of_type("AWS::CloudWatch::Alarm")
    for queue in queues:
        watching = [
            a
            for a in alarms.values()
            if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
            and any(ref(d["Value"]) == queue for d in a["Properties"].get("Dimensions") or [])
        ]
        assert watching, f"no alarm watches {queue}"
        for a in watching:
            p = a["Properties"]
            assert (p["Threshold"], p["ComparisonOperator"]) == (0, "GreaterThanThreshold"), queue
            assert _pages(a), queue


def test_every_alarm_pages_through_the_topic_and_the_chaos_stop_conditions_exist() -> None:
    alarms = of_type("AWS::CloudWatch::Alarm")
    assert CHAOS_STOP_CONDITIONS <= set(alarms)
    assert {"ApiLatencyP99Alarm", "LambdaThrottlesAlarm", "AuditVerifyFailureAlarm", "AuditUnspooledAlarm"} <= set(
        alarms
    )
    for lid, alarm in alarms.items():
        assert _pages(alarm), f"{lid} notifies nobody"
    assert of_type("AWS::SNS::Topic").keys() == {"AlarmTopic"}


def test_metric_alarms_watch_metrics_the_code_publishes() -> None:
    """An alarm on a metric nobody emits never fires: each GPUBroker metric an alarm names is published in code."""
    sources = "\n".join(
        p.read_text() for p in [*(ROOT / "layers/core").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    )
    for lid, alarm in of_type("AWS::CloudWatch::Alarm").items():
        p = alarm["Properties"]
        if p.get("Namespace") == "GPUBroker":
            assert f'"{p["MetricName"]}"' in sources, f"{lid}: nothing publishes {p['MetricName']}"


def test_every_route_has_a_p99_latency_alarm_that_pages_and_the_nested_template_is_current() -> None:
    from infra.alarms.route_latency import OUT, main, render

    assert main(["--check"]) == 0, "run `make alarms`"
    nested = RESOURCES["RouteLatencyAlarms"]
    assert nested["Type"] == "AWS::Serverless::Application"
    assert (ROOT / nested["Properties"]["Location"]).resolve() == OUT.resolve()
    assert ref(nested["Properties"]["Parameters"]["AlarmTopicArn"]) == "AlarmTopic"
    alarms = load_template(OUT)["Resources"]
    watched = set()
    for lid, alarm in alarms.items():
        p = alarm["Properties"]
        assert (p["MetricName"], p["ExtendedStatistic"]) == ("Latency", "p99"), lid
        assert [ref(a) for a in p["AlarmActions"]] == ["AlarmTopicArn"], lid
        watched |= {d["Value"] for d in p["Dimensions"] if d["Name"] == "route"}
    assert watched == {f"{r.method} {r.path}" for r in read_app().routes}
    assert render().count("Type: AWS::CloudWatch::Alarm") == len(alarms)


def test_the_rest_stage_never_throttles_a_plan_below_its_documented_rate() -> None:
    (api,) = of_type("AWS::Serverless::Api").values()
    (setting,) = api["Properties"]["MethodSettings"]
    params = TEMPLATE["Parameters"]
    rate, burst = params[ref(setting["ThrottlingRateLimit"]) or ""], params[ref(setting["ThrottlingBurstLimit"]) or ""]
    top = max(RATE_LIMITS.values())
    assert rate["MinValue"] >= top and rate["Default"] >= top
    assert burst["MinValue"] >= 2 * top and burst["Default"] >= burst["MinValue"]


def test_dashboards_cover_health_kpis_and_billing_and_are_json_once_substituted() -> None:
    dashboards = of_type("AWS::CloudWatch::Dashboard")
    assert set(dashboards) == {"ServiceHealthDashboard", "KpiDashboard", "BillingUsageDashboard"}
    for lid, d in dashboards.items():
        text = d["Properties"]["DashboardBody"]["Fn::Sub"]
        for name in re.findall(r"\$\{([A-Za-z0-9:]+)(?:\.[A-Za-z]+)?\}", text):
            assert name.startswith("AWS::") or name in RESOURCES, f"{lid} names no resource {name}"
        body = json.loads(re.sub(r"\$\{[^}]+\}", "x", text))
        assert body["widgets"], lid


def test_prod_has_its_own_issuer_redis_from_secrets_manager_tags_and_approval() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())

    def overrides(env: str) -> dict[str, str]:
        text = config[env]["deploy"]["parameters"]["parameter_overrides"]
        return dict(re.findall(r'(\w+)="?([^"\s]*)"?', text))

    prod, dev = overrides("prod"), overrides("dev")
    assert prod["TokenIssuer"].startswith("https://") and prod["TokenIssuer"] != dev.get("TokenIssuer")
    assert prod["TokenIssuer"] != TEMPLATE["Parameters"]["TokenIssuer"]["Default"]
    assert prod.get("RedisUrlSecretArn") and "RedisUrl" not in prod  # never the URL itself
    assert config["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
    for env in ("default", "dev", "prod"):
        tags = config[env]["deploy"]["parameters"]["tags"]
        assert "project=" in tags and f"stage={'dev' if env == 'default' else env}" in tags, env
