"""``TaskTokens`` over Step Functions' callback API: the Checkout webhook completes the booking saga's
``AwaitPayment`` wait (``SendTaskSuccess`` / ``SendTaskFailure``).

A token that is already settled (the wait timed out, the execution ended, or a duplicate webhook settled it first:
``TaskTimedOut``, ``InvalidToken``, ``TaskDoesNotExist``) is no error: the webhook's work is idempotent and Stripe
must get its 2xx. Anything else propagates (the webhook answers 5xx and Stripe delivers again).
"""

from __future__ import annotations

import json
from typing import Any, Final

from gpubroker.adapters.aws import client
from gpubroker.observability import logger

SETTLED: Final = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
MAX_CAUSE: Final = 32768  # SendTaskFailure's cause limit (characters)
MAX_ERROR: Final = 256


class StepFunctionsTaskTokens:
    def succeed(self, token: str, output: dict[str, Any]) -> None:
        self._send("send_task_success", taskToken=token, output=json.dumps(output, sort_keys=True))

    def fail(self, token: str, error: str, cause: str) -> None:
        self._send("send_task_failure", taskToken=token, error=error[:MAX_ERROR], cause=cause[:MAX_CAUSE])

    @staticmethod
    def _send(operation: str, **kwargs: str) -> None:
        from botocore.exceptions import ClientError

        try:
            getattr(client("stepfunctions"), operation)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in SETTLED:
                raise
            logger.info("task token already settled", extra={"operation": operation, "code": code})
