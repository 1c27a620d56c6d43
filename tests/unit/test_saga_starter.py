"""adapters/saga_starter.py with a stand-in Step Functions client: the exact input, the execution name, an existing
execution as success (its ARN built as Step Functions names executions), and every other failure a 503."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from gpubroker.adapters.saga_starter import StepFunctionsSagaStarter, execution_arn
from gpubroker.domain.errors import SagaUnavailable

MACHINE = "arn:aws:states:eu-west-1:111122223333:stateMachine:gpubroker-BookingSaga"


class Sfn:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def start_execution(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(kw)
        if self.error is not None:
            raise self.error
        return {"executionArn": execution_arn(kw["stateMachineArn"], kw["name"])}


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}}, "StartExecution")


def test_starts_one_execution_named_after_the_booking_with_exactly_its_ids() -> None:
    sfn = Sfn()
    arn = StepFunctionsSagaStarter(MACHINE, sfn=sfn).start("bk_x", "u1")
    assert arn == "arn:aws:states:eu-west-1:111122223333:execution:gpubroker-BookingSaga:bk_x"
    (call,) = sfn.calls
    assert (call["stateMachineArn"], call["name"]) == (MACHINE, "bk_x")
    assert json.loads(call["input"]) == {"booking_id": "bk_x", "user_id": "u1", "correlation_id": "bk_x"}


def test_the_creating_requests_correlation_id_is_in_the_input_every_step_reads() -> None:
    sfn = Sfn()
    StepFunctionsSagaStarter(MACHINE, sfn=sfn).start("bk_x", "u1", "req-123")
    StepFunctionsSagaStarter(MACHINE, sfn=sfn).start("bk_x", "u1", "req-123")
    first, again = (c["input"] for c in sfn.calls)
    assert json.loads(first) == {"booking_id": "bk_x", "user_id": "u1", "correlation_id": "req-123"}
    assert first == again  # a retried start sends the same bytes


def test_an_existing_execution_is_success() -> None:
    starter = StepFunctionsSagaStarter(MACHINE, sfn=Sfn(client_error("ExecutionAlreadyExists")))
    assert starter.start("bk_x", "u1").endswith(":execution:gpubroker-BookingSaga:bk_x")


@pytest.mark.parametrize(
    "error",
    [client_error("ThrottlingException"), client_error("StateMachineDoesNotExist"),
     EndpointConnectionError(endpoint_url="https://states")],
)  # fmt: skip
def test_any_other_failure_is_saga_unavailable(error: Exception) -> None:
    with pytest.raises(SagaUnavailable):
        StepFunctionsSagaStarter(MACHINE, sfn=Sfn(error)).start("bk_x", "u1")


def test_a_bug_is_not_disguised() -> None:
    with pytest.raises(TypeError):
        StepFunctionsSagaStarter(MACHINE, sfn=Sfn(TypeError("bad"))).start("bk_x", "u1")
