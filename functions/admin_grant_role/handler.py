"""Operator command (invoke only, no route): give an account a role, e.g. make the first admin.

Event ``{"email": "ada@example.com", "role": "admin", "operator": "<who runs it>"}`` (role default ``admin``).
Locally ``make admin EMAIL=...``; in AWS ``aws lambda invoke`` / ``sam remote invoke`` (README, "The first admin").
Audited as ``account.grant_role`` by ``operator:<operator>``, refused or not (IAM's CloudTrail names the caller of
the Invoke itself). An unknown email fails the invocation (``AccountNotFound``); the role counts from the account's
next login or refresh."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import OperatorSettings
from gpubroker.observability import event_handler, logger
from gpubroker.services.accounts import OperatorDeps, grant_role
from gpubroker.wiring.auth import operator_deps

Settings = OperatorSettings
Deps = OperatorDeps


@event_handler(operator_deps)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("email"), str):
        raise ValueError('the event must be {"email": "...", "role": "admin", "operator": "..."}')
    operator = str(event.get("operator") or "unnamed")[:128]
    user = grant_role(event["email"], str(event.get("role") or "admin"), operator=operator,
                      request_id=context.aws_request_id, deps=deps)  # fmt: skip
    result = {"user_id": user.user_id, "email": user.email, "roles": sorted(user.roles)}
    logger.info("role granted", extra={**result, "operator": operator})
    return result
