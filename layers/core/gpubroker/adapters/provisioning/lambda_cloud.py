"""Lambda Cloud create-instance API (``Authorization: Bearer <api_key>``), per Lambda's public OpenAPI spec.

- Launch: ``POST /api/v1/instance-operations/launch`` ``{region_name, instance_type_name, ssh_key_names,
  quantity: 1, name}`` -> ``{"data": {"instance_ids": [id]}}``.
- Terminate: ``POST /api/v1/instance-operations/terminate`` ``{"instance_ids": [id]}`` ->
  ``{"data": {"terminated_instances": [...]}}``; an unknown id is 404 ``global/object-does-not-exist``.
- Describe: ``GET /api/v1/instances/{id}`` -> ``{"data": {id, name, ip, status, ...}}``; list:
  ``GET /api/v1/instances`` -> ``{"data": [...]}`` (status booting | active | unhealthy | terminating |
  terminated).
- Errors: ``{"error": {"code", "message", "suggestion"}}``: ``instance-operations/launch/insufficient-capacity``
  (400), ``global/quota-exceeded`` (400), ``global/invalid-api-key`` (401), ``global/account-inactive`` (403).

Idempotency: the launch ``name`` is ours (from the idempotency key); ``GET /api/v1/instances`` finds it.
"""

from __future__ import annotations

from typing import Any

from gpubroker.adapters.provisioning._base import HttpCapacityProvider, _http_default, text
from gpubroker.domain.errors import (
    NoCapacity,
    ProviderAuthFailed,
    ProviderRejected,
    ProvisioningError,
    QuotaExceeded,
)
from gpubroker.domain.offers import Offer
from gpubroker.domain.provisioning import ConnectionDetails, InstanceStatus, Reservation

_STATUS = {
    "booting": InstanceStatus.PENDING,
    "active": InstanceStatus.RUNNING,
    "unhealthy": InstanceStatus.RUNNING,
    "terminating": InstanceStatus.TERMINATING,
    "terminated": InstanceStatus.TERMINATED,
}


class LambdaCapacity(HttpCapacityProvider):
    provider = "lambda"
    default_base_url = "https://cloud.lambda.ai"

    def __init__(self, *, ssh_key_names: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ssh_keys = list(ssh_key_names)

    def _create(self, offer: Offer, gpu_count: int, name: str) -> Reservation:
        if gpu_count != offer.gpu_count:
            raise ProviderRejected(
                f"lambda sells {offer.instance_type} with {offer.gpu_count} GPUs only", provider=self.provider
            )
        body = {
            "region_name": offer.region,
            "instance_type_name": offer.instance_type,
            "ssh_key_names": self._ssh_keys,
            "quantity": 1,
            "name": name,
        }
        _, answer = self.call("POST", "/api/v1/instance-operations/launch", body, once=True)
        ids = ((answer or {}).get("data") or {}).get("instance_ids") or []
        if not ids:
            raise ProviderRejected("lambda launched nothing", provider=self.provider)
        return Reservation(self.provider, str(ids[0]), InstanceStatus.PENDING)

    def find_by_name(self, name: str) -> Reservation | None:
        _, answer = self.call("GET", "/api/v1/instances")
        for row in (answer or {}).get("data") or []:
            if isinstance(row, dict) and row.get("name") == name and row.get("status") != "terminated":
                return self._reservation(row)
        return None

    def describe(self, instance_id: str) -> Reservation:
        answer = self.call_unless_gone("GET", f"/api/v1/instances/{instance_id}")
        if answer is None:
            return Reservation(self.provider, instance_id, InstanceStatus.TERMINATED)
        return self._reservation((answer or {}).get("data") or {})

    def release(self, instance_id: str) -> None:
        self.call_unless_gone(
            "POST", "/api/v1/instance-operations/terminate", {"instance_ids": [instance_id]}
        )  # a 404: nothing to undo

    def _reservation(self, row: dict[str, Any]) -> Reservation:
        return Reservation(
            self.provider,
            str(row.get("id")),
            _STATUS.get(text(row.get("status")), InstanceStatus.PENDING),
            connection=ConnectionDetails(host=row.get("ip") or None, port=22 if row.get("ip") else None, user="ubuntu"),
        )

    def _classify(self, status: int, body: Any) -> ProvisioningError | None:
        if 200 <= status < 300:
            return None
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}  # a proxy's error page has no envelope
        code = text(error.get("code"))
        message = text(error.get("message")) or f"HTTP {status}"
        details = {"provider": self.provider, "status": status, "code": code}
        if code == "instance-operations/launch/insufficient-capacity":
            return NoCapacity(f"lambda: {message}", provider=self.provider, details=details)
        if code == "global/quota-exceeded":
            return QuotaExceeded(f"lambda: {message}", provider=self.provider, details=details)
        if code in ("global/invalid-api-key", "global/account-inactive"):
            return ProviderAuthFailed(f"lambda: {message}", provider=self.provider, details=details)
        default = _http_default(self.provider, status, body)
        if default is not None and code:
            default.details = details
        return default
