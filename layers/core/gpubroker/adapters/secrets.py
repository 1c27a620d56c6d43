"""Provider credentials: AWS Secrets Manager in the cloud (Powertools Parameters, re-read after a max age, so a
rotated key reaches warm containers), static values in tests.

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


# One Powertools SecretsProvider per client factory and container, built on first use (never at import: moto must
# start before any boto3 client exists). It caches each secret for its ``max_age``; ``clear_cache`` drops them all.
_PROVIDERS: dict[Callable[[], Any], Any] = {}
_LOCK = threading.Lock()
DEFAULT_MAX_AGE_S = 300.0


def clear_cache() -> None:
    """Forget fetched secrets (tests; or after a rotation was detected by a 401)."""
    with _LOCK:
        _PROVIDERS.clear()


def _default_client() -> Any:
    import boto3

    return boto3.session.Session().client("secretsmanager")


def _provider(client_factory: Callable[[], Any]) -> Any:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    with _LOCK:
        provider = _PROVIDERS.get(client_factory)
        if provider is None:
            provider = _PROVIDERS[client_factory] = SecretsProvider(boto3_client=client_factory())
        return provider


class SecretsManagerCredentials:
    """A JSON secret in AWS Secrets Manager, read through Powertools Parameters on first use and again once it is
    ``max_age_s`` old (default 300 s), so a rotated key is picked up by a warm container within ``max_age_s``,
    without a cold start. Between reads every caller in the container shares the cached value.

    Powertools pitfalls (checked here): its default ``max_age`` is 5 s (``POWERTOOLS_PARAMETERS_MAX_AGE``), so the
    age is always passed; ``max_age`` is whole seconds; a ``SecretsProvider`` builds its boto3 client when
    constructed, so it is built on first use; every fetch error becomes ``GetParameterError`` whose message can
    carry the service's text, so it is reported by type only."""

    def __init__(
        self, secret_id: str, *, client_factory: Callable[[], Any] | None = None, max_age_s: float = DEFAULT_MAX_AGE_S
    ) -> None:
        self.secret_id = secret_id
        self.max_age_s = max_age_s
        self._client_factory = client_factory or _default_client

    def values(self) -> Mapping[str, str]:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

        try:
            parsed = _provider(self._client_factory).get(self.secret_id, max_age=int(self.max_age_s), transform="json")
        except GetParameterError as exc:  # the message names the secret, never its value
            cause = exc.__cause__ or exc.__context__
            raise SourceError(f"cannot read secret {self.secret_id}: {type(cause or exc).__name__}") from None
        except TransformParameterError:
            raise SourceError(f"secret {self.secret_id} is not a JSON object") from None
        if not isinstance(parsed, dict):
            raise SourceError(f"secret {self.secret_id} is not a JSON object")
        return {str(k): json.dumps(v) if isinstance(v, dict) else str(v) for k, v in parsed.items() if v is not None}

    def __repr__(self) -> str:
        return f"SecretsManagerCredentials({self.secret_id!r})"


class SecretField:
    """One field of a JSON secret (e.g. the Stripe secret's ``webhook_secret``), read through its ``Credentials`` on
    each use (so a rotation reaches warm containers with the secret's max age); ``fallback`` when the field is
    absent or empty (the local stack's default; None in AWS, where an unset field must refuse, not guess)."""

    def __init__(self, credentials: Credentials, key: str, *, fallback: str | None = None) -> None:
        self._credentials = credentials
        self.key = key
        self._fallback = fallback

    def value(self) -> str:
        return self._credentials.values().get(self.key) or self._fallback or ""

    def __repr__(self) -> str:
        return f"SecretField({self._credentials!r}, {self.key!r})"
