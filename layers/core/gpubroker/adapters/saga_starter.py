"""Starts the booking saga: Step Functions ``StartExecution`` on the Standard state machine, execution name = the
booking id, input exactly ``{"booking_id": ..., "user_id": ..., "correlation_id": ...}`` (the contract every step
reads; ``correlation_id`` is the creating request's, else the booking id, and every step logs under it).

Step Functions makes a Standard execution's name unique for 90 days: starting it again with the same name and the
same input returns the running execution, and a name already used by a closed execution raises
``ExecutionAlreadyExists``. Both are success here (the saga for this booking exists): the ARN is the state
machine's with ``:stateMachine:`` replaced by ``:execution:`` and the name appended, which is how Step Functions
names executions. The input is built with sorted keys so a retried start sends the same bytes. Any other failure
of the call is ``SagaUnavailable`` (503): the booking is recorded ``pending`` and the client's retry with the same
``Idempotency-Key`` starts its saga (Powertools keeps no record of a failed request).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError

from gpubroker.adapters.aws import client
from gpubroker.domain.errors import SagaUnavailable


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


class StepFunctionsSagaStarter:
    def __init__(self, state_machine_arn: str, *, sfn: Any = None) -> None:
        self.state_machine_arn = state_machine_arn
        self._sfn = sfn

    @property
    def sfn(self) -> Any:
        return self._sfn if self._sfn is not None else client("stepfunctions")

    def start(self, booking_id: str, user_id: str, correlation_id: str | None = None) -> str:
        fields = {"booking_id": booking_id, "user_id": user_id, "correlation_id": correlation_id or booking_id}
        body = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        try:
            started = self.sfn.start_execution(stateMachineArn=self.state_machine_arn, name=booking_id, input=body)
        except Exception as exc:
            code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
            if code == "ExecutionAlreadyExists":
                return execution_arn(self.state_machine_arn, booking_id)
            if code is None and not isinstance(exc, BotoCoreError):
                raise
            # throttled, Step Functions down, or a deployment without the machine: the booking is recorded and a
            # retry with the same Idempotency-Key starts it (the record is found, the start repeated)
            raise SagaUnavailable(f"the booking's processing could not start ({code or type(exc).__name__}): "
                                  "retry with the same Idempotency-Key") from exc  # fmt: skip
        return str(started["executionArn"])
