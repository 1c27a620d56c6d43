"""infra/local/template.py and provision.py: state machines read from the template, their DefinitionSubstitutions
resolved to the local stack's names and ARNs, and the functions' Timeout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.local.provision import function_environment, physical_names
from infra.local.template import function_arn, function_name, read_app

ASL = {
    "StartAt": "Charge",
    "States": {
        "Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "${ChargeArn}", "Payload.$": "$"}, "Next": "Pay"},
        "Pay": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "${ChargeArn}"}, "TimeoutSeconds": "@@Timeout@@", "End": True},
    },
}  # fmt: skip


def _template(tmp_path: Path, *, globals_timeout: str = "Globals:\n  Function:\n    Timeout: 7\n") -> Path:
    # the ASL as SAM takes it: a placeholder where a number goes is not JSON until it is substituted
    (tmp_path / "machine.asl.json").write_text(json.dumps(ASL).replace('"@@Timeout@@"', "${PayTimeout}"))
    path = tmp_path / "template.yaml"
    path.write_text(
        f"""
Parameters:
  PaymentTimeoutSeconds:
    Type: Number
    Default: 900
{globals_timeout}
Resources:
  ChargeFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/charge
      Timeout: 2
  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/api
      Environment:
        Variables:
          BOOKING_STATE_MACHINE_ARN: !Ref SagaMachine
          MACHINE_NAME: !GetAtt SagaMachine.Name
  SagaMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Type: STANDARD
      DefinitionUri: machine.asl.json
      DefinitionSubstitutions:
        ChargeArn: !GetAtt ChargeFunction.Arn
        PayTimeout: !Ref PaymentTimeoutSeconds
  InlineMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Type: EXPRESS
      Definition:
        StartAt: Only
        States:
          Only: {{Type: Task, Resource: "${{Fn}}", End: true}}
      DefinitionSubstitutions:
        Fn: !GetAtt ApiFunction.Arn
"""
    )
    return path


def test_state_machines_are_read_with_their_substitutions(tmp_path: Path) -> None:
    app = read_app(_template(tmp_path))
    assert set(app.state_machines) == {"SagaMachine", "InlineMachine"}
    assert (app.state_machines["SagaMachine"].type, app.state_machines["InlineMachine"].type) == ("STANDARD", "EXPRESS")
    names = physical_names(app, "run1")
    saga = app.state_machines["SagaMachine"].render(names, app.parameter_defaults())
    charge = "arn:aws:lambda:us-east-1:123456789012:function:ChargeFunction"
    assert saga["States"]["Charge"]["Parameters"]["FunctionName"] == charge
    assert saga["States"]["Pay"]["TimeoutSeconds"] == 900  # a number, as CloudFormation's text substitution makes
    overridden = app.state_machines["SagaMachine"].render(names, {"PaymentTimeoutSeconds": 5})
    assert overridden["States"]["Pay"]["TimeoutSeconds"] == 5
    inline = app.state_machines["InlineMachine"].render(names, {})
    assert inline["States"]["Only"]["Resource"] == function_arn("ApiFunction")


def test_a_placeholder_without_a_substitution_is_an_error(tmp_path: Path) -> None:
    app = read_app(_template(tmp_path))
    machine = app.state_machines["SagaMachine"]
    broken = type(machine)(machine.logical_id, machine.definition, {"ChargeArn": "x"})
    with pytest.raises(KeyError, match="PayTimeout"):
        broken.render({}, {})


def test_a_function_sees_the_state_machine_arn_and_name(tmp_path: Path) -> None:
    app = read_app(_template(tmp_path))
    env = function_environment(app, physical_names(app, "run1"))
    assert env["BOOKING_STATE_MACHINE_ARN"] == "arn:aws:states:us-east-1:123456789012:stateMachine:run1-SagaMachine"
    assert env["MACHINE_NAME"] == "run1-SagaMachine"


def test_timeouts_come_from_the_function_else_globals_else_lambdas_default(tmp_path: Path) -> None:
    app = read_app(_template(tmp_path))
    assert (app.functions["ChargeFunction"].timeout_s, app.functions["ApiFunction"].timeout_s) == (2.0, 7.0)
    bare = tmp_path / "bare"
    bare.mkdir()
    app = read_app(_template(bare, globals_timeout=""))
    assert app.functions["ApiFunction"].timeout_s == 3.0


@pytest.mark.parametrize(
    "given",
    [
        "ChargeFunction",
        "ChargeFunction:$LATEST",
        "123456789012:function:ChargeFunction",
        "arn:aws:lambda:us-east-1:123456789012:function:ChargeFunction",
        "arn:aws:lambda:us-east-1:123456789012:function:ChargeFunction:live",
    ],
)
def test_the_invoke_api_takes_a_name_or_an_arn(given: str) -> None:
    assert function_name(given) == "ChargeFunction"


def test_a_timeout_may_be_a_parameter(tmp_path: Path) -> None:
    app = read_app(
        _template(tmp_path, globals_timeout="Globals:\n  Function:\n    Timeout: !Ref PaymentTimeoutSeconds\n")
    )
    assert app.functions["ApiFunction"].timeout_s == 900.0


def test_local_parameter_overrides() -> None:
    from infra.local.stack import parameter_overrides

    assert parameter_overrides("PaymentTimeoutSeconds=5 Stage=prod,AppUrl=http://x/y=z") == {
        "PaymentTimeoutSeconds": "5", "Stage": "prod", "AppUrl": "http://x/y=z"}  # fmt: skip
    assert parameter_overrides("") == {}
    with pytest.raises(ValueError, match="Name=value"):
        parameter_overrides("PaymentTimeoutSeconds")
