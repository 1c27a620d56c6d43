"""The API Gateway WebSocket management API (``@connections``) through boto3's apigatewaymanagementapi.

The endpoint is the stage URL (``https://{api}.execute-api.{region}.amazonaws.com/{stage}``, or the local stack's
front); it is passed explicitly, so it wins over ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

from typing import Any


class ApiGatewayConnectionPoster:
    def __init__(self, endpoint: str, *, max_connections: int = 32, client: Any = None) -> None:
        self.endpoint = endpoint
        self.max_connections = max_connections
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            cfg = Config(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=2,
                read_timeout=5,
                max_pool_connections=self.max_connections,
            )
            self._client = boto3.session.Session().client(
                "apigatewaymanagementapi",
                endpoint_url=self.endpoint,
                config=cfg,
            )
        return self._client

    def post(self, connection_id: str, data: bytes) -> bool:
        """Deliver ``data``; False when the connection is gone (410), any other failure raises."""
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
        except self.client.exceptions.GoneException:
            return False
        return True

    def close(self, connection_id: str) -> bool:
        """Close the connection (``DELETE @connections/{id}``; API Gateway then runs ``$disconnect``); False when it
        is already gone (410)."""
        try:
            self.client.delete_connection(ConnectionId=connection_id)
        except self.client.exceptions.GoneException:
            return False
        return True
