"""Create-instance adapters (the ``CapacityProvider`` port): RunPod, Lambda, Vast.ai, Shadeform and the local
``sandbox``. See docs/decisions.md "Reserving capacity: idempotent creates per provider"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from gpubroker.domain.errors import ProviderAuthFailed, ProviderRejected

if TYPE_CHECKING:
    from gpubroker.adapters.providers.http import HttpClient
    from gpubroker.adapters.secrets import Credentials
    from gpubroker.ports import CapacityProvider

CAPACITY_PROVIDERS = ("lambda", "runpod", "sandbox", "shadeform", "vast")


def build_capacity_provider(
    provider: str,
    *,
    credentials: Credentials | None = None,
    http: HttpClient | None = None,
    base_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> CapacityProvider:
    """The adapter for ``provider`` (the offer's provider). The API key is the secret's ``api_key`` field (a
    provider without one is ``ProviderAuthFailed``: permanent, the booking fails, nothing was created); Lambda's
    ``ssh_key_name`` and Shadeform's ``ssh_key_id`` (an SSH key registered at the provider) come from the same
    secret."""
    if provider == "sandbox":
        import os

        from gpubroker.adapters.provisioning.sandbox import SandboxCapacity

        return SandboxCapacity.from_env(os.environ if environ is None else environ)
    from gpubroker.adapters.provisioning._base import HttpCapacityProvider
    from gpubroker.adapters.provisioning.lambda_cloud import LambdaCapacity
    from gpubroker.adapters.provisioning.runpod import RunPodCapacity
    from gpubroker.adapters.provisioning.shadeform import ShadeformCapacity
    from gpubroker.adapters.provisioning.vast import VastCapacity

    classes: dict[str, type[HttpCapacityProvider]] = {
        "lambda": LambdaCapacity,
        "runpod": RunPodCapacity,
        "shadeform": ShadeformCapacity,
        "vast": VastCapacity,
    }
    cls = classes.get(provider)
    if cls is None:
        raise ProviderRejected(f"{provider} cannot be booked through GPUBroker", provider=provider)
    values = credentials.values() if credentials is not None else {}
    key = values.get("api_key")
    if not key:
        raise ProviderAuthFailed(f"{provider}: no API key configured", provider=provider)
    if cls is LambdaCapacity:  # Lambda's launch needs exactly one registered SSH key name
        ssh = values.get("ssh_key_name")
        return LambdaCapacity(api_key=key, base_url=base_url, http=http, ssh_key_names=(ssh,) if ssh else ())
    if cls is ShadeformCapacity:
        return ShadeformCapacity(api_key=key, base_url=base_url, http=http, ssh_key_id=values.get("ssh_key_id"))
    return cls(api_key=key, base_url=base_url, http=http)
