"""Offer sources speaking each provider's own public API (see each module for the endpoint and answer shape).

``build_source(name, credentials=..., base_url=..., http=...)`` returns the provider's :class:`OfferSource`.
Credentials: ``{"api_key"}`` for runpod, vast, lambda, shadeform and gcp; ``{"client_id", "client_secret"}`` for
verda; none for azure (public API); aws signs with the ambient role (or ``aws_access_key_id`` /
``aws_secret_access_key`` in the secret).
"""

from __future__ import annotations

from collections.abc import Callable

from gpubroker.adapters.providers.aws import AwsPricingSource
from gpubroker.adapters.providers.azure import AzureRetailSource
from gpubroker.adapters.providers.gcp import GcpBillingSource
from gpubroker.adapters.providers.http import HttpClient
from gpubroker.adapters.providers.lambda_cloud import LambdaSource
from gpubroker.adapters.providers.runpod import RunPodSource
from gpubroker.adapters.providers.shadeform import ShadeformSource
from gpubroker.adapters.providers.vast import VastSource
from gpubroker.adapters.providers.verda import VerdaSource
from gpubroker.adapters.secrets import Credentials
from gpubroker.domain.errors import SourceError
from gpubroker.ports import OfferSource

_Factory = Callable[..., OfferSource]

SOURCES: dict[str, _Factory] = {
    "runpod": RunPodSource,
    "vast": VastSource,
    "lambda": LambdaSource,
    "shadeform": ShadeformSource,
    "verda": VerdaSource,
    "aws": AwsPricingSource,
    "gcp": GcpBillingSource,
    "azure": AzureRetailSource,
}


def build_source(
    provider: str, *, credentials: Credentials | None, base_url: str | None = None, http: HttpClient | None = None
) -> OfferSource:
    """The API-backed offer source of ``provider`` (a key of ``domain.providers.PROVIDERS``)."""
    factory = SOURCES.get(provider)
    if factory is None:
        raise SourceError(f"no API adapter for provider {provider!r} (have {sorted(SOURCES)})")
    return factory(credentials=credentials, base_url=base_url, http=http)


__all__ = ["SOURCES", "HttpClient", "build_source"]
