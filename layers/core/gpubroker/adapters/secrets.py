"""Provider credentials: AWS Secrets Manager in the cloud, static values in tests.

A secret is a JSON object such as ``{"api_key": "..."}`` (or ``{"client_id": ..., "client_secret": ...}`` for
OAuth2 client-credentials providers). Values are never logged and never appear in ``repr`` or error messages.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from gpubroker.domain.errors import SourceError


class Credentials(Protocol):
    """What a provider adapter needs to authenticate: the secret's fields."""

    def values(self) -> Mapping[str, str]: ...


def require(credentials: Credentials | None, key: str, *, provider: str) -> str:
    """One field of the secret, or a :class:`SourceError` naming the provider and the missing key (not values)."""
    if credentials is None:
        raise SourceError(f"{provider}: no credentials configured (needs {key!r})")
    value = credentials.values().get(key)
    if not value:
        raise SourceError(f"{provider}: credentials lack {key!r}")
    return value


class ProviderCredentials:
    """One provider's part of a shared secret ``{"runpod": {"api_key": ...}, "verda": {...}}``."""

    def __init__(self, shared: Credentials, provider: str) -> None:
        self._shared = shared
        self.provider = provider

    def values(self) -> Mapping[str, str]:
        raw = self._shared.values().get(self.provider)
        if not raw:
            return {}
        try:
            part = json.loads(raw)
        except json.JSONDecodeError:
            raise SourceError(f"{self.provider}: its credentials in the secret are not a JSON object") from None
        return {str(k): str(v) for k, v in part.items()} if isinstance(part, dict) else {}

    def __repr__(self) -> str:
        return f"ProviderCredentials({self.provider!r})"


class StaticCredentials:
    """Fixed values (tests, local runs)."""

    def __init__(self, values: Mapping[str, str] | None = None, **kwargs: str) -> None:
        self._values = {**(values or {}), **kwargs}

    def values(self) -> Mapping[str, str]:
        return self._values

    def __repr__(self) -> str:
        return f"StaticCredentials(keys={sorted(self._values)})"


# secret id -> parsed secret; one fetch per container (Lambda reuses the module between invocations)
_CACHE: dict[str, dict[str, str]] = {}
_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget fetched secrets (tests; or after a rotation was detected by a 401)."""
    with _LOCK:
        _CACHE.clear()


def _default_client() -> Any:
    import boto3

    return boto3.session.Session().client("secretsmanager")


class SecretsManagerCredentials:
    """A JSON secret in AWS Secrets Manager, fetched on first use and cached for the container's life."""

    def __init__(self, secret_id: str, *, client_factory: Callable[[], Any] | None = None) -> None:
        self.secret_id = secret_id
        self._client_factory = client_factory or _default_client

    def values(self) -> Mapping[str, str]:
        with _LOCK:
            cached = _CACHE.get(self.secret_id)
        if cached is not None:
            return cached
        parsed = self._fetch()
        with _LOCK:
            _CACHE[self.secret_id] = parsed
        return parsed

    def _fetch(self) -> dict[str, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client_factory().get_secret_value(SecretId=self.secret_id)
        except (BotoCoreError, ClientError) as exc:  # the message names the secret, never its value
            raise SourceError(f"cannot read secret {self.secret_id}: {type(exc).__name__}") from None
        try:
            parsed = json.loads(answer.get("SecretString") or "")
        except json.JSONDecodeError:
            raise SourceError(f"secret {self.secret_id} is not a JSON object") from None
        if not isinstance(parsed, dict):
            raise SourceError(f"secret {self.secret_id} is not a JSON object")
        return {str(k): json.dumps(v) if isinstance(v, dict) else str(v) for k, v in parsed.items() if v is not None}

    def __repr__(self) -> str:
        return f"SecretsManagerCredentials({self.secret_id!r})"
