"""infra/chaos/fis-experiments.yaml <-> template.yaml: the AWS FIS experiments inject only the Lambda faults of issue
16 §2 into functions the application template has, each is stopped by alarms given as parameters, and each says
what it expects (its Metadata's ExpectedOutcome, also in infra/chaos/README.md). cfn-lint validates the file's
schema (`make cfn-lint`)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from infra.local.template import ROOT, load_template

FIS = ROOT / "infra" / "chaos" / "fis-experiments.yaml"
LAMBDA_ACTIONS = {"aws:lambda:invocation-add-delay", "aws:lambda:invocation-error"}
ALARM_ARN = re.compile(
    r"^arn:\$\{AWS::Partition\}:cloudwatch:\$\{AWS::Region\}:\$\{AWS::AccountId\}:alarm:\$\{(\w+)\}$"
)


@pytest.fixture(scope="module")
def fis() -> dict[str, Any]:
    return load_template(FIS)


def experiments(fis: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in fis["Resources"].items() if v["Type"] == "AWS::FIS::ExperimentTemplate"}


def test_each_target_is_a_function_of_the_application_template_by_its_logical_id(fis: dict[str, Any]) -> None:
    app = load_template()["Resources"]
    targeted = set()
    for name, exp in experiments(fis).items():
        for target in exp["Properties"]["Targets"].values():
            assert target["ResourceType"] == "aws:lambda:function", name
            assert target["ResourceTags"]["aws:cloudformation:stack-name"] == {"Ref": "AppStackName"}, name
            logical = target["ResourceTags"]["aws:cloudformation:logical-id"]
            assert app[logical]["Type"] == "AWS::Serverless::Function", (name, logical)
            targeted.add(logical)
    # ingestion, the booking steps, the authorizer and the assistant (issue 16 §2)
    assert {"IngestOffersFunction", "AuthorizerFunction", "ApiAiChatFunction"} <= targeted
    assert any(t.startswith("Booking") for t in targeted)


def test_only_lambda_faults_each_on_a_declared_target_with_a_duration(fis: dict[str, Any]) -> None:
    for name, exp in experiments(fis).items():
        props = exp["Properties"]
        for action in props["Actions"].values():
            assert action["ActionId"] in LAMBDA_ACTIONS, name
            assert action["Targets"]["Functions"] in props["Targets"], name
            assert action["Parameters"]["duration"] == {"Ref": "FaultDuration"}, name
            assert set(action.get("StartAfter", [])) <= set(props["Actions"]), name
        assert {a["ActionId"] for a in props["Actions"].values()} == LAMBDA_ACTIONS, f"{name}: delay and errors"


def test_each_experiment_stops_on_alarms_given_as_parameters_and_says_what_it_expects(fis: dict[str, Any]) -> None:
    params = fis["Parameters"]
    app = load_template()["Resources"]
    for name, exp in experiments(fis).items():
        stops = exp["Properties"]["StopConditions"]
        assert stops, name
        for stop in stops:
            assert stop["Source"] == "aws:cloudwatch:alarm"
            match = ALARM_ARN.match(stop["Value"]["Fn::Sub"])
            assert match and match.group(1) in params, (name, stop)
            alarm = match.group(1).removesuffix("Name")
            if alarm in app:  # the application's alarm of that logical id (those of issue 16 §1 once merged)
                assert app[alarm]["Type"] == "AWS::CloudWatch::Alarm", alarm
        assert len(exp["Metadata"]["ExpectedOutcome"]) > 100, name
    assert {"Api5xxAlarmName", "SagaFailuresAlarmName", "BreakerOpenAlarmName"} <= set(params)


def test_the_readme_describes_every_experiment(fis: dict[str, Any]) -> None:
    readme = (ROOT / "infra" / "chaos" / "README.md").read_text()
    for name in experiments(fis):
        assert f"`{name}`" in readme, name
