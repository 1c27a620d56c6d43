"""template.yaml's runtime wrappers, evaluated per parameter set as CloudFormation would: the AWS FIS Lambda extension
on exactly the functions infra/chaos/fis-experiments.yaml targets (``ChaosEnabled``), the ADOT layer with the
Powertools Tracer off on every function (``OtelLayerArn``), and ``Rules`` that refuse both at once (each needs
``AWS_LAMBDA_EXEC_WRAPPER``, and a function has one)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.template import NO_VALUE, ROOT, condition, load_template, resolve

TEMPLATE = load_template()
FIS = load_template(ROOT / "infra" / "chaos" / "fis-experiments.yaml")
FUNCTIONS = {k: v for k, v in TEMPLATE["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
GLOBALS = TEMPLATE["Globals"]["Function"]
NAMES = {lid: f"<{lid}>" for lid in TEMPLATE["Resources"]}  # what a !Ref of a resource stands for here
OTEL_LAYER = "arn:aws:lambda:us-east-1:615299751070:layer:AWSOpenTelemetryDistroPython:13"
CHAOS = {"ChaosEnabled": "true", "FisConfigBucket": "gpubroker-dev-chaos-fisconfig-1"}
OTEL = {"OtelLayerArn": OTEL_LAYER}
FIS_WRAPPER, OTEL_WRAPPER = "/opt/aws-fis/bootstrap", "/opt/otel-instrument"


def params(**overrides: str) -> dict[str, Any]:
    return {**{k: v.get("Default") for k, v in TEMPLATE["Parameters"].items()}, **overrides}


def value(v: Any, p: dict[str, Any]) -> Any:
    return resolve(v, NAMES, p, None, TEMPLATE["Conditions"])


def deployed(lid: str, p: dict[str, Any]) -> tuple[list[Any], dict[str, str], list[Any]]:
    """A function's layers, environment and policies after SAM's Globals merge and CloudFormation's !If/NoValue."""
    props = FUNCTIONS[lid]["Properties"]
    layers = [value(x, p) for x in [*GLOBALS.get("Layers", []), *props.get("Layers", [])]]
    env_spec = {**GLOBALS["Environment"]["Variables"], **(props.get("Environment") or {}).get("Variables", {})}
    env = {k: str(value(v, p)) for k, v in env_spec.items()}
    policies = [value(x, p) if isinstance(x, dict) and "Fn::If" in x else x for x in props.get("Policies", [])]
    return (
        [x for x in layers if x != NO_VALUE],
        {k: v for k, v in env.items() if v != NO_VALUE},
        [x for x in policies if x != NO_VALUE],
    )


def fis_targets() -> set[str]:
    return {
        target["ResourceTags"]["aws:cloudformation:logical-id"]
        for exp in FIS["Resources"].values()
        if exp["Type"] == "AWS::FIS::ExperimentTemplate"
        for target in exp["Properties"]["Targets"].values()
    }


def rules_hold(p: dict[str, Any]) -> bool:
    """Every ``Rules`` assertion whose rule condition holds (Fn::Equals/Not/And/Or, as the template's Conditions)."""
    for rule in TEMPLATE["Rules"].values():
        exprs = {"when": rule["RuleCondition"], **{str(i): a["Assert"] for i, a in enumerate(rule["Assertions"])}}
        if condition("when", exprs, p) and not all(condition(str(i), exprs, p) for i in range(len(exprs) - 1)):
            return False
    return True


def test_the_fis_targets_are_the_experiments_and_the_issue_s_functions() -> None:
    assert fis_targets() == {
        "IngestOffersFunction", "BookingReserveFunction", "BookingChargeFunction", "AuthorizerFunction",
        "ApiAiChatFunction", "ApiAiParseWorkloadFunction",
    }  # fmt: skip


@pytest.mark.parametrize("lid", sorted(FUNCTIONS))
def test_chaos_enabled_gives_exactly_the_fis_targets_the_extension(lid: str) -> None:
    p = params(**CHAOS)
    assert rules_hold(p)
    layers, env, policies = deployed(lid, p)
    target = lid in fis_targets()
    assert (p["FisExtensionLayerArn"] in layers) == target, lid
    assert ("<FisConfigReadPolicy>" in policies) == target, lid
    assert env.get("AWS_LAMBDA_EXEC_WRAPPER") == (FIS_WRAPPER if target else None), lid
    location = "arn:aws:s3:::gpubroker-dev-chaos-fisconfig-1/FisConfigs/"
    assert env.get("AWS_FIS_CONFIGURATION_LOCATION") == (location if target else None), lid
    assert OTEL_LAYER not in layers and "POWERTOOLS_TRACE_DISABLED" not in env, lid
    assert len(layers) <= 5, f"{lid}: Lambda allows 5 layers"


def test_the_extension_reads_the_chaos_stack_s_configuration_prefix_only() -> None:
    policy = TEMPLATE["Resources"]["FisConfigReadPolicy"]
    assert policy["Condition"] == "ChaosOn"
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    p = params(**CHAOS)
    granted = {s["Action"]: value(s["Resource"], p) for s in statements}
    assert granted == {
        "s3:ListBucket": "arn:aws:s3:::gpubroker-dev-chaos-fisconfig-1",
        "s3:GetObject": "arn:aws:s3:::gpubroker-dev-chaos-fisconfig-1/FisConfigs/*",
    }
    listing = next(s for s in statements if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["FisConfigs/*"]}}
    # the chaos stack writes its faults under the same prefix (its FisConfigLocation output)
    assert FIS["Outputs"]["FisConfigLocation"]["Value"]["Fn::Sub"].endswith("/FisConfigs/")


def test_the_extension_layer_is_the_arm64_one_the_functions_run_on() -> None:
    assert GLOBALS["Architectures"] == ["arm64"]
    layer = TEMPLATE["Parameters"]["FisExtensionLayerArn"]
    assert layer["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert layer["Default"].startswith("/aws/service/fis/lambda-extension/AWS-FIS-extension-arm64/")


@pytest.mark.parametrize("lid", sorted(FUNCTIONS))
def test_otel_layer_traces_every_function_with_the_powertools_tracer_off(lid: str) -> None:
    p = params(**OTEL)
    assert rules_hold(p)
    layers, env, policies = deployed(lid, p)
    assert OTEL_LAYER in layers and p["FisExtensionLayerArn"] not in layers, lid
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == OTEL_WRAPPER, lid
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true", lid  # one tracer per function: OpenTelemetry's
    assert "AWS_FIS_CONFIGURATION_LOCATION" not in env and "<FisConfigReadPolicy>" not in policies, lid


@pytest.mark.parametrize("lid", sorted(FUNCTIONS))
def test_by_default_no_wrapper_no_extra_layer_and_the_powertools_tracer(lid: str) -> None:
    p = params()
    assert rules_hold(p)
    layers, env, _ = deployed(lid, p)
    assert layers[:2] == ["<DepsLayer>", "<CoreLayer>"] and set(layers) <= {"<DepsLayer>", "<CoreLayer>", "<MathLayer>"}
    assert not {"AWS_LAMBDA_EXEC_WRAPPER", "AWS_FIS_CONFIGURATION_LOCATION", "POWERTOOLS_TRACE_DISABLED"} & set(env)
    assert GLOBALS["Tracing"] == "Active"  # Lambda's own segment either way; the SDK in the code is the question


@pytest.mark.parametrize(
    ("overrides", "holds"),
    [
        ({**CHAOS, **OTEL}, False),  # two wrappers: refused
        ({**CHAOS, "Stage": "prod"}, False),  # fault injection in prod: refused
        ({"ChaosEnabled": "true"}, False),  # no configuration bucket: refused
        (CHAOS, True),
        ({**OTEL, "Stage": "prod"}, True),
    ],
)
def test_rules_refuse_both_wrappers_and_chaos_outside_dev(overrides: dict[str, str], holds: bool) -> None:
    assert rules_hold(params(**overrides)) is holds
