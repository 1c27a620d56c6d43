"""WebSocket ``$connect``: anonymous connections are accepted (the price feed is public); a ``token`` query
parameter is verified as the REST authorizer verifies an access token (with the handshake's fingerprint cookie),
and a bad one refuses the handshake with 401. Only the user id is stored, never the token."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.api.cookies import fingerprint_from
from gpubroker.config import ConnectSettings
from gpubroker.domain.errors import InvalidToken
from gpubroker.observability import event_handler, logger, metrics
from gpubroker.services.connections import open_connection
from gpubroker.wiring.realtime import ConnectDeps, connect_deps

Settings = ConnectSettings
ROUTE_KEY = "$connect"
Deps = ConnectDeps


@event_handler(connect_deps, correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    token = (event.get("queryStringParameters") or {}).get("token") or None
    try:
        user = open_connection(event["requestContext"]["connectionId"], token, fingerprint_from(event.get("headers")),
                               connections=deps.connections, identity=deps.identity, clock=deps.clock)  # fmt: skip
    except InvalidToken as exc:  # API Gateway refuses the handshake with this status
        logger.info("connection refused", extra={"reason": (exc.details or {}).get("reason")})
        metrics.add_metric(name="WebSocketRefused", unit="Count", value=1)
        return {"statusCode": 401}
    metrics.add_metric(name="WebSocketConnected", unit="Count", value=1)
    metrics.add_metric(name="WebSocketConnectedSignedIn" if user else "WebSocketConnectedAnonymous", unit="Count",
                       value=1)  # fmt: skip
    return {"statusCode": 200}
