"""State machines run for real on the local stack's parts: moto's server process (infra/local/moto_server.py)
executes the ASL, and its Lambda tasks reach the HTTP front's Invoke API and run in the Runtime's execution
environments, with timeouts and fault injection (infra/local/faults.py).

A template of its own: a test-only function (tests/integration/lambda_fixtures/sfn_step, ``Timeout: 2``) and three
state machines from tests/fixtures/statemachines, provisioned by infra/local/provision.py with their
``DefinitionSubstitutions`` (``!GetAtt StepFunction.Arn``, ``!Ref CallbackTimeoutSeconds``)."""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local.faults import clear_faults, list_faults, set_fault
from infra.local.http_front import make_server
from infra.local.moto_server import LAMBDA_ENDPOINT_ENV
from infra.local.provision import function_environment, provision
from infra.local.runtime import Runtime
from infra.local.sigv4 import LocalCredentials, sign
from infra.local.stack import free_port
from infra.local.template import ROOT, App, read_app

pytestmark = pytest.mark.integration

CODE = ROOT / "tests" / "integration" / "lambda_fixtures" / "sfn_step"
ASL = ROOT / "tests" / "fixtures" / "statemachines"


def _machine(lid: str, asl: str, extra: str = "") -> str:
    return f"""
  {lid}:
    Type: AWS::Serverless::StateMachine
    Properties:
      Type: STANDARD
      DefinitionUri: {ASL / asl}
      DefinitionSubstitutions:
        StepFunctionArn: !GetAtt StepFunction.Arn{extra}"""


_TIMEOUT = "\n        CallbackTimeoutSeconds: !Ref CallbackTimeoutSeconds"
TEMPLATE = f"""
Parameters:
  CallbackTimeoutSeconds:
    Type: Number
    Default: 3
Globals:
  Function:
    Timeout: 10
Resources:
  StepFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {CODE}
      Handler: handler.lambda_handler
      Timeout: 2
      Environment:
        Variables:
          MACHINE_ARN: !Ref TwoStepsMachine
          DLQ_URL: !GetAtt DeadLetters.QueueUrl
          DLQ_ARN: !GetAtt DeadLetters.Arn
  DeadLetters:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: 1209600
{_machine("TwoStepsMachine", "two_steps.asl.json")}
{_machine("RetryCatchMachine", "retry_catch.asl.json")}
{_machine("CallbackMachine", "callback.asl.json", _TIMEOUT)}
"""


@dataclass
class Local:
    app: App
    runtime: Runtime
    api: str
    creds: LocalCredentials
    names: dict[str, str]
    sfn: Any

    def run(self, machine: str, event: dict[str, Any], timeout_s: float = 30) -> tuple[str, dict[str, Any], Any]:
        """Start an execution and wait for its end: (status, output or error/cause, history events)."""
        return self.wait(self.start(machine, event), timeout_s)

    def start(self, machine: str, event: dict[str, Any]) -> str:
        # a name of its own each time (moto names an unnamed execution "None", so a second one already exists)
        started = self.sfn.start_execution(stateMachineArn=self.names[machine], name=uuid.uuid4().hex,
                                           input=json.dumps(event))  # fmt: skip
        return str(started["executionArn"])

    def wait(self, arn: str, timeout_s: float = 30) -> tuple[str, dict[str, Any], Any]:
        deadline = time.monotonic() + timeout_s
        while (described := self.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"{arn} still running"
            time.sleep(0.1)
        out = json.loads(described["output"]) if described.get("output") else {k: described.get(k) for k in
                                                                                ("error", "cause")}  # fmt: skip
        return described["status"], out, self.sfn.get_execution_history(executionArn=arn)["events"]


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    path = tmp_path_factory.mktemp("sfn") / "template.yaml"
    path.write_text(TEMPLATE)
    app = read_app(path)
    creds = LocalCredentials.generate()
    runtime = Runtime(app, isolated=True)
    server = make_server("127.0.0.1", 0, runtime, credentials=creds)
    api = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update({**creds.environment(), LAMBDA_ENDPOINT_ENV: api, "MOTO_PORT": str(port)})
    moto = subprocess.Popen(
        [sys.executable, "-m", "infra.local.moto_server", "-H", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert moto.poll() is None and time.monotonic() < deadline, "moto did not start"
                time.sleep(0.05)
        endpoint = f"http://127.0.0.1:{port}"
        names = provision(app, "sfn-test", endpoint_url=endpoint)
        sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
        yield Local(app, runtime, api, creds, names, sfn)
    finally:
        moto.terminate()
        moto.wait(timeout=10)
        server.shutdown()
        server.server_close()
        runtime.close()


@pytest.fixture(autouse=True)
def no_faults(local: Local) -> Iterator[None]:
    yield
    clear_faults(local.api, local.creds)


def calls(folder: Path) -> list[float]:
    """When each invocation of the step function started (its files), in order."""
    return sorted(float(p.name.split("-")[1]) for p in folder.glob("call-*.json"))


def _at(event: dict[str, Any]) -> float:
    stamp: datetime = event["timestamp"]
    return stamp.timestamp()


def test_the_state_machines_are_created_with_their_substitutions(local: Local) -> None:
    arn = local.names["CallbackMachine"]
    assert arn == "arn:aws:states:us-east-1:123456789012:stateMachine:sfn-test-CallbackMachine"
    described = local.sfn.describe_state_machine(stateMachineArn=arn)
    assert described["type"] == "STANDARD"
    wait = json.loads(described["definition"])["States"]["Wait"]
    assert wait["TimeoutSeconds"] == 3  # !Ref CallbackTimeoutSeconds, a number in the ASL
    assert wait["Parameters"]["FunctionName"] == "arn:aws:lambda:us-east-1:123456789012:function:StepFunction"
    provision(local.app, "sfn-test", endpoint_url=local.sfn.meta.endpoint_url)  # a second run updates, no error
    env = function_environment(local.app, local.names)
    assert env["MACHINE_ARN"] == local.names["TwoStepsMachine"]
    assert env["DLQ_URL"].endswith("/sfn-test-DeadLetters") and env["DLQ_ARN"].endswith(":sfn-test-DeadLetters")


def test_two_lambda_tasks_run_to_success_in_the_runtime(local: Local, tmp_path: Path) -> None:
    status, out, _ = local.run("TwoStepsMachine", {"dir": str(tmp_path)})
    assert status == "SUCCEEDED", out
    assert (out["first"]["step"], out["second"]["step"]) == ("first", "second")
    assert out["first"]["pid"] != os.getpid()  # ran in an execution environment, not here
    assert 0 < out["second"]["remaining_ms"] <= 2000  # the function's own Timeout (2 s), not Globals' 10
    assert len(calls(tmp_path)) == 2


def test_a_python_exception_is_retried_with_jitter_then_caught_by_its_class_name(local: Local, tmp_path: Path) -> None:
    """Retry ``PaymentsUnavailable`` (IntervalSeconds 1, BackoffRate 2, MaxAttempts 2, JitterStrategy FULL): three
    attempts, each wait at most its full interval (1 s, then 2 s), then the Catch that names the class."""
    status, out, _ = local.run("RetryCatchMachine", {"dir": str(tmp_path), "raise": "PaymentsUnavailable"})
    assert status == "SUCCEEDED", out
    assert out["caught"] == "PaymentsUnavailable"
    assert out["error"]["Error"] == "PaymentsUnavailable"
    assert json.loads(out["error"]["Cause"])["errorMessage"] == "PaymentsUnavailable on purpose"
    started = calls(tmp_path)
    assert len(started) == 3
    gaps = [b - a for a, b in itertools.pairwise(started)]
    assert gaps[0] < 1 + 0.9 and gaps[1] < 2 + 0.9, gaps  # jittered: never more than the interval (+ overhead)


@pytest.mark.parametrize("when", ["before", "after"])
def test_an_injected_fault_is_retried_through(local: Local, tmp_path: Path, when: str) -> None:
    """A fault on the next invocation (``Lambda.ServiceException``, the saga retries it): ``before`` fails it
    without running the handler, ``after`` runs the handler (its side effect happens) and then fails. The Retry
    without jitter waits its full IntervalSeconds (1 s)."""
    rule = set_fault(local.api, {"function": "StepFunction", "error": "Lambda.ServiceException", "when": when,
                                 "times": 1}, local.creds)  # fmt: skip
    status, out, history = local.run("RetryCatchMachine", {"dir": str(tmp_path), "step": "once"})
    assert status == "SUCCEEDED", out
    assert out["result"]["step"] == "once"
    assert len(calls(tmp_path)) == (1 if when == "before" else 2)
    failed = [e for e in history if e["type"] == "TaskFailed"]
    assert [json.loads(e["taskFailedEventDetails"]["cause"])["errorType"] for e in failed] == [
        "Lambda.ServiceException"
    ]
    retried = next(e for e in history if e["type"] == "TaskScheduled" and e["id"] > failed[0]["id"])
    assert _at(retried) - _at(failed[0]) >= 0.99  # the retry interval, really waited
    listed = {r["id"]: r for r in list_faults(local.api, local.creds)}
    assert (listed[rule["id"]]["fired"], listed[rule["id"]]["remaining"]) == (1, 0)


def test_a_lambda_timeout_is_sandbox_timedout_and_the_environment_is_replaced(local: Local, tmp_path: Path) -> None:
    before = local.runtime.stats()["StepFunction"]["cold_starts"]
    started = time.monotonic()
    status, out, _ = local.run("RetryCatchMachine", {"dir": str(tmp_path), "sleep": 30})
    assert status == "SUCCEEDED", out
    assert (out["caught"], out["error"]["Error"]) == ("States.ALL", "Sandbox.Timedout")
    assert "Task timed out after 2.00 seconds" in json.loads(out["error"]["Cause"])["errorMessage"]
    assert time.monotonic() - started < 15  # stopped at its 2 s, not after the 30 s it asked for
    (tmp_path / "after").mkdir()
    assert local.run("TwoStepsMachine", {"dir": str(tmp_path / "after")})[0] == "SUCCEEDED"
    assert local.runtime.stats()["StepFunction"]["cold_starts"] > before  # the timed-out environment is gone


def test_a_delay_fault_past_the_timeout_is_a_lambda_timeout_after_the_side_effect(local: Local, tmp_path: Path) -> None:
    """The charge step's crash: the handler ran (Stripe was called), then the invocation timed out."""
    set_fault(local.api, {"function": "StepFunction", "delay_ms": 5000, "when": "after", "times": 2}, local.creds)
    status, out, _ = local.run("RetryCatchMachine", {"dir": str(tmp_path), "step": "charge"})
    assert status == "SUCCEEDED", out
    assert out["error"]["Error"] == "Sandbox.Timedout"  # not retried: the fixture's Retry does not name it
    assert len(calls(tmp_path)) == 1  # the handler ran once, before the timeout


def _token(folder: Path, timeout_s: float = 15) -> str:
    deadline = time.monotonic() + timeout_s
    while not (folder / "token").exists():
        assert time.monotonic() < deadline, "the task token never came"
        time.sleep(0.05)
    return (folder / "token").read_text()


def test_a_wait_for_task_token_task_completes_on_send_task_success_and_fails_on_failure(
    local: Local, tmp_path: Path
) -> None:
    arn = local.start("CallbackMachine", {"dir": str(tmp_path)})
    local.sfn.send_task_success(taskToken=_token(tmp_path), output=json.dumps({"payment_intent_id": "pi_1"}))
    status, out, _ = local.wait(arn)
    assert status == "SUCCEEDED", out
    assert out["paid"] == {"payment_intent_id": "pi_1"}

    failing = tmp_path / "failing"
    failing.mkdir()
    arn = local.start("CallbackMachine", {"dir": str(failing)})
    local.sfn.send_task_failure(taskToken=_token(failing), error="PaymentDeclined", cause="card declined")
    status, out, _ = local.wait(arn)
    assert (status, out["error"], out["cause"]) == ("FAILED", "PaymentDeclined", "card declined")


def test_a_wait_for_task_token_task_times_out_on_its_timeout_seconds(local: Local, tmp_path: Path) -> None:
    started = time.monotonic()
    status, out, _ = local.run("CallbackMachine", {"dir": str(tmp_path)})
    assert status == "SUCCEEDED", out
    assert (out["caught"], out["error"]["Error"]) == ("States.Timeout", "States.Timeout")
    assert 3 <= time.monotonic() - started < 15  # TimeoutSeconds: 3 (the template parameter's default)


def test_the_faults_api_takes_only_the_runs_key_and_checks_rules(local: Local) -> None:
    url = f"{local.api}/_local/faults"

    def call(method: str, body: Any, creds: LocalCredentials) -> tuple[int, Any]:
        data = json.dumps(body).encode()
        headers = sign(creds, "lambda", method, url, data, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers)) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    rule: dict[str, Any] = {"function": "StepFunction", "error": "Boom"}
    assert call("POST", rule, LocalCredentials.generate())[0] == 403  # another key
    bad: Any
    for bad in ({**rule, "function": "Nope"}, {"function": "StepFunction"}, {**rule, "when": "during"},
                {**rule, "times": 0}, {**rule, "error": "no spaces"}, {**rule, "extra": 1}, []):  # fmt: skip
        status, body = call("POST", bad, local.creds)
        assert (status, body["error"]["code"]) == (400, "InvalidParameterValueException"), bad
    assert call("POST", rule, local.creds)[0] == 201
    assert [r["error"] for r in list_faults(local.api, local.creds)] == ["Boom"]
    assert clear_faults(local.api, local.creds) == 1
    assert list_faults(local.api, local.creds) == []
