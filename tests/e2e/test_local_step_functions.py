"""The local stack runs state machines for real: its moto process executes the ASL and sends the Lambda tasks to
the stack's own Invoke API (signed with the run's key), where the template's functions run in the Runtime; the
fault rules of ``/_local/faults`` apply to them. (tests/integration/test_local_step_functions.py covers Retry,
Catch, timeouts and task tokens on a template of its own; this checks the whole stack's wiring, in ~3 s.)"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

import boto3
import pytest

from infra.local.faults import clear_faults, list_faults, set_fault
from infra.local.sigv4 import LocalCredentials
from infra.local.template import function_arn
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

FUNCTION = "SweepConnectionsFunction"  # takes a plain event, changes nothing a test relies on


def test_a_state_machine_runs_a_template_function_and_retries_an_injected_fault(stack: Stack) -> None:
    if os.environ.get("GPUBROKER_API_URL"):
        pytest.skip("the local stack's own moto and /_local/faults")
    state = json.loads(stack.state_file.read_text())
    creds = LocalCredentials.from_state(state)
    assert state["sandbox"]["prefix"].startswith("gpub:sandbox:")  # this run's sandbox instances
    retry = {"ErrorEquals": ["Lambda.ServiceException", "Lambda.TooManyRequestsException"], "IntervalSeconds": 1,
             "MaxAttempts": 3, "BackoffRate": 1}  # fmt: skip
    definition = {"StartAt": "Sweep", "States": {"Sweep": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Retry": [retry], "End": True,
        "Parameters": {"FunctionName": function_arn(FUNCTION), "Payload": {}},
        "ResultSelector": {"report.$": "$.Payload"},
    }}}  # fmt: skip
    sfn: Any = boto3.Session(creds.access_key_id, creds.secret_access_key, region_name="us-east-1").client(
        "stepfunctions", endpoint_url=state["aws_endpoint"]
    )
    machine = sfn.create_state_machine(name=f"e2e-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition),
                                       roleArn="arn:aws:iam::123456789012:role/e2e")["stateMachineArn"]  # fmt: skip
    set_fault(stack.url, {"function": FUNCTION, "error": "Lambda.ServiceException", "times": 1}, creds)
    try:
        arn = sfn.start_execution(stateMachineArn=machine, name=uuid.uuid4().hex, input="{}")["executionArn"]
        deadline = time.monotonic() + 30
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert described["status"] == "SUCCEEDED", described
        assert "swept" in json.loads(described["output"])["report"]  # the real function's answer
        assert [r["fired"] for r in list_faults(stack.url, creds)] == [1]  # failed once, then retried through
    finally:
        clear_faults(stack.url, creds)
        sfn.delete_state_machine(stateMachineArn=machine)
