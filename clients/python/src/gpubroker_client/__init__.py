"""GPUBroker's Python client: typed models for every answer, sync and async, over the public API only."""

from gpubroker_client._core import DEFAULT_API, Call, RetryPolicy
from gpubroker_client.client import AsyncClient, Client
from gpubroker_client.errors import ApiError, ApiUnreachable, GpuBrokerError, NotSignedIn
from gpubroker_client.session import FileTokenStore, KeyringTokenStore, Session, TokenStore, token_store

__all__ = [
    "DEFAULT_API",
    "ApiError",
    "ApiUnreachable",
    "AsyncClient",
    "Call",
    "Client",
    "FileTokenStore",
    "GpuBrokerError",
    "KeyringTokenStore",
    "NotSignedIn",
    "RetryPolicy",
    "Session",
    "TokenStore",
    "token_store",
]
