"""The Lambda authorizer (REQUEST type) of every route that needs a user.

Identity sources: the ``Authorization: Bearer <access token>`` header and the ``Cookie`` header holding the token's
fingerprint. API Gateway caches the answer per pair of values (``ReauthorizeEvery`` in template.yaml), so the policy
allows every route of the stage: a cached answer is reused on the caller's other protected routes, and routes that
need more than a user (the admin ones) check the role themselves. A valid token from a live session gets Allow with
``user_id``, ``plan``, ``roles`` and ``fam`` in the context the function reads; anything else raises
``Unauthorized``, which API Gateway turns into the UNAUTHORIZED gateway response (401).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.api.cookies import fingerprint_from
from gpubroker.api.identity import bearer_token
from gpubroker.config import AuthorizerSettings
from gpubroker.domain.errors import InvalidToken
from gpubroker.observability import logger
from gpubroker.services.identity import IdentityDeps, authenticate
from gpubroker.wiring.auth import authorizer_deps

Settings = AuthorizerSettings
Deps = IdentityDeps
UNAUTHORIZED = "Unauthorized"  # the exact message API Gateway maps to a 401


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
    request = APIGatewayAuthorizerRequestEvent(event)
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    token = bearer_token(headers.get("authorization"))
    if token is None:
        raise Exception(UNAUTHORIZED)  # API Gateway: this message means 401
    try:
        principal = authenticate(token, fingerprint_from(headers), deps=deps or authorizer_deps())
    except InvalidToken as exc:
        logger.info("token refused", extra={"reason": (exc.details or {}).get("reason")})
        raise Exception(UNAUTHORIZED) from None
    arn = request.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=principal.user_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context=principal.to_context(),
    )
    policy.allow_all_routes()
    return policy.asdict()
