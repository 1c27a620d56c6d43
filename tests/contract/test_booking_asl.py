"""statemachines/booking.asl.json <-> template.yaml: the graph is closed and reachable, every substitution is one
the template gives and names a step function, transient errors are retried before any Catch, every
compensation's failure goes to Attention, and Notify never compensates. (cfn-lint does not look inside a
DefinitionUri file, and moto accepts a dangling Next.)"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from infra.local.template import ROOT

ASL = json.loads((ROOT / "statemachines" / "booking.asl.json").read_text())
STATES: dict[str, dict[str, Any]] = ASL["States"]
TRANSIENT = {
    "ProviderUnavailable",
    "PaymentsUnavailable",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Sandbox.Timedout",
    "States.Timeout",
}
FORWARD = ("Validate", "Reserve", "Charge", "AwaitPayment", "Confirm")
COMPENSATIONS = ("Refund", "Release", "Fail")


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    """``!Ref X`` -> ``"!Ref X"``; other tags keep their tag only (their value does not matter here)."""
    return f"!{suffix} {node.value}" if isinstance(node, yaml.ScalarNode) else f"!{suffix}"


_Loader.add_multi_constructor("!", _tag)


def _template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)
    return loaded


TEMPLATE = _template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
MACHINE = RESOURCES["BookingSagaStateMachine"]["Properties"]


def targets(state: dict[str, Any]) -> list[str]:
    out = [state[k] for k in ("Next", "Default") if k in state]
    out += [c["Next"] for c in state.get("Catch", [])]
    out += [c["Next"] for c in state.get("Choices", [])]
    return out


def test_every_target_exists_and_every_state_is_reachable() -> None:
    assert ASL["StartAt"] == "Validate"
    seen, todo = set(), [ASL["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        assert name in STATES, f"dangling target {name}"
        seen.add(name)
        todo += targets(STATES[name])
    assert seen == set(STATES)
    for name, state in STATES.items():
        if state["Type"] not in {"Succeed", "Fail", "Choice"}:
            assert "Next" in state or state.get("End") is True, name


def test_the_happy_path_order() -> None:
    path, name = [], ASL["StartAt"]
    while STATES[name]["Type"] != "Succeed":
        path.append(name)
        state = STATES[name]
        name = state["Default"] if state["Type"] == "Choice" else state["Next"]
    assert path == ["Validate", "Reserve", "Charge", "NeedsCheckout", "Confirm", "Notify"]
    choice = STATES["NeedsCheckout"]["Choices"][0]
    assert choice["Variable"] == "$.charge.needs_checkout" and choice["BooleanEquals"] is True
    assert STATES[STATES[choice["Next"]]["Next"]] is STATES["AwaitPayment"]


def test_substitutions_are_the_templates_and_name_its_functions() -> None:
    text = (ROOT / "statemachines" / "booking.asl.json").read_text()
    used = set(re.findall(r"\$\{(\w+)\}", text))
    given = MACHINE["DefinitionSubstitutions"]
    assert used == set(given)
    for key, value in given.items():
        if key == "PaymentTimeoutSeconds":
            assert value == "!Ref PaymentTimeoutSeconds"
            assert TEMPLATE["Parameters"]["PaymentTimeoutSeconds"]["Default"] == 900
            continue
        lid = key.removesuffix("Arn")
        assert value == f"!GetAtt {lid}.Arn"
        assert RESOURCES[lid]["Type"] == "AWS::Serverless::Function", key
        assert (ROOT / RESOURCES[lid]["Properties"]["CodeUri"] / "handler.py").is_file()
    invoked = [p["LambdaInvokePolicy"]["FunctionName"] for p in MACHINE["Policies"] if "LambdaInvokePolicy" in p]
    others = [p for p in MACHINE["Policies"] if "LambdaInvokePolicy" not in p]  # only its log delivery (issue 16)
    assert all(a.startswith("logs:") for p in others for st in p["Statement"] for a in st["Action"]), others
    steps = sorted(f"!Ref {k.removesuffix('Arn')}" for k in given if k != "PaymentTimeoutSeconds")
    assert sorted(invoked) == steps  # exactly one LambdaInvokePolicy per step function
    assert MACHINE["Type"] == "STANDARD" and MACHINE["DefinitionUri"] == "statemachines/booking.asl.json"


def _retried(state: dict[str, Any]) -> set[str]:
    return {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}


@pytest.mark.parametrize("name", [n for n, s in STATES.items() if s["Type"] == "Task"])
def test_every_task_invokes_a_step_lambda_and_retries_with_full_jitter(name: str) -> None:
    state = STATES[name]
    assert state["Resource"].startswith("arn:aws:states:::lambda:invoke")
    assert re.fullmatch(r"\$\{Booking\w+FunctionArn\}", state["Parameters"]["FunctionName"])
    payload = state["Parameters"]["Payload"]
    assert payload["booking_id.$"] == "$.booking_id" and payload["user_id.$"] == "$.user_id"
    assert payload["correlation_id.$"] == "$.correlation_id"  # every step logs under the request's id (issue 16)
    assert state["Retry"], name
    for retrier in state["Retry"]:
        assert retrier["BackoffRate"] == 2 and retrier["JitterStrategy"] == "FULL", name
        assert retrier["MaxAttempts"] == 3 and 1 <= retrier["IntervalSeconds"] <= 5, name
    expected = TRANSIENT - {"States.Timeout"} if name == "AwaitPayment" else TRANSIENT
    assert expected <= _retried(state), name
    # the state keeps booking_id / user_id at the top: a result goes to a sub-key or nowhere
    assert state.get("ResultPath") is None or state["ResultPath"].startswith("$.")


@pytest.mark.parametrize("name", FORWARD)
def test_forward_steps_catch_everything_into_the_compensations(name: str) -> None:
    catches = STATES[name]["Catch"]
    assert catches == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Refund"}]
    # a Catch is only taken after the Retry list is exhausted: no Catch names a transient error on its own
    assert not any(set(c["ErrorEquals"]) & TRANSIENT for c in catches)


def test_await_payment_waits_for_the_task_token_with_the_parameterised_timeout() -> None:
    state = STATES["AwaitPayment"]
    assert state["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert state["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    window = STATES["PaymentWindow"]
    assert window["Parameters"]["timeout_s.$"] == "States.StringToJson('${PaymentTimeoutSeconds}')"
    assert state["TimeoutSecondsPath"] == window["ResultPath"] + ".timeout_s"


def test_compensations_run_in_reverse_and_each_falls_back_to_attention() -> None:
    assert [STATES["Refund"]["Next"], STATES["Release"]["Next"], STATES["Fail"]["Next"]] == [
        "Release",
        "Fail",
        "NotifyFailed",
    ]
    assert STATES[STATES["NotifyFailed"]["Next"]]["Type"] == "Fail"
    for name in COMPENSATIONS:
        state = STATES[name]
        assert state["Parameters"]["Payload"]["error.$"] == "$.error"
        assert state["Retry"][-1]["ErrorEquals"] == ["States.ALL"]
        assert TRANSIENT <= _retried(state)
        assert [c["Next"] for c in state["Catch"]] == ["Attention"]
        assert state["Catch"][0]["ResultPath"] != "$.error"  # the original error survives for Fail
    attention = STATES["Attention"]
    assert STATES[attention["Next"]]["Type"] == "Fail"
    assert all(STATES[c["Next"]]["Type"] == "Fail" for c in attention["Catch"])


def test_notify_is_best_effort() -> None:
    for name in ("Notify", "NotifyFailed"):
        state = STATES[name]
        assert all(c["Next"] == state["Next"] for c in state["Catch"]), name
    assert STATES[STATES["Notify"]["Next"]]["Type"] == "Succeed"


def test_only_jsonpath() -> None:
    assert ASL.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert all(s.get("QueryLanguage", "JSONPath") == "JSONPath" for s in STATES.values())
    assert "{%" not in json.dumps(ASL)


def test_dead_letter_queue_and_alarm() -> None:
    alarm = RESOURCES["BookingDeadLetterAlarm"]["Properties"]
    assert RESOURCES["BookingDeadLetterQueue"]["Type"] == "AWS::SQS::Queue"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_step_policies_touch_only_their_resources() -> None:
    """Stripe only for the payment steps, provider keys only for the capacity steps, the DLQ only for Attention."""
    stripe = {"BookingChargeFunction", "BookingAwaitPaymentFunction", "BookingConfirmFunction", "BookingRefundFunction"}
    provider = {"BookingReserveFunction", "BookingConfirmFunction", "BookingReleaseFunction"}
    for key in MACHINE["DefinitionSubstitutions"]:
        if key == "PaymentTimeoutSeconds":
            continue
        lid = key.removesuffix("Arn")
        policies = json.dumps(RESOURCES[lid]["Properties"]["Policies"])
        env = RESOURCES[lid]["Properties"]["Environment"]["Variables"]
        assert ("STRIPE_SECRET_ID" in env) == (lid in stripe), lid
        assert ("PROVIDER_SECRETS_ID" in env) == (lid in provider), lid
        assert ("BOOKING_DLQ_URL" in env) == (lid == "BookingAttentionFunction"), lid
        assert "DynamoDBCrudPolicy" not in policies and '"*"' not in policies, lid
