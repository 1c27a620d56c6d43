"""Shadeform create-instance API (header ``X-API-KEY``), per its OpenAPI spec
(/work/shared/data/provider-responses/shadeform_openapi.yaml).

- Create: ``POST /v1/instances/create`` ``CreateRequest {cloud, region, shade_instance_type, shade_cloud: true,
  name, ssh_key_id?}`` -> ``CreateResponse {id, cloud_assigned_id}`` (asynchronous: status ``creating``).
- Delete: ``POST /v1/instances/{id}/delete`` -> 200 (status ``deleting``).
- Info: ``GET /v1/instances/{id}/info`` -> ``InstanceInfoResponse {id, name, status, ip, ssh_user, ssh_port}``;
  list: ``GET /v1/instances`` -> ``{"instances": [Instance...]}`` (status creating | pending_provider | pending |
  active | error | deleting | deleted).
- Errors: the spec documents none; the API answers 4xx with ``{"error": "..."}`` -- a message naming capacity
  ("out of stock", "no capacity", "not available") is NoCapacity, one naming a limit/balance QuotaExceeded.

Offers: ``instance_type`` is ``{cloud}_{shade_instance_type}`` (adapters/providers/shadeform.py).
Idempotency: ``name`` is ours (from the idempotency key); ``GET /v1/instances`` finds it.
"""

from __future__ import annotations

from typing import Any

from gpubroker.adapters.provisioning._base import HttpCapacityProvider, _http_default, text
from gpubroker.domain.errors import NoCapacity, ProviderRejected, ProvisioningError, QuotaExceeded
from gpubroker.domain.offers import Offer
from gpubroker.domain.provisioning import ConnectionDetails, InstanceStatus, Reservation

_STATUS = {
    "creating": InstanceStatus.PENDING,
    "pending_provider": InstanceStatus.PENDING,
    "pending": InstanceStatus.PENDING,
    "active": InstanceStatus.RUNNING,
    "error": InstanceStatus.FAILED,
    "deleting": InstanceStatus.TERMINATING,
    "deleted": InstanceStatus.TERMINATED,
}
_NO_CAPACITY = ("capacity", "out of stock", "not available", "unavailable")
_QUOTA = ("quota", "limit", "balance", "insufficient funds", "credit")


class ShadeformCapacity(HttpCapacityProvider):
    provider = "shadeform"
    default_base_url = "https://api.shadeform.ai"

    def __init__(self, *, ssh_key_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ssh_key_id = ssh_key_id

    def _headers(self) -> dict[str, str]:
        return {"X-API-KEY": self._key}

    def _create(self, offer: Offer, gpu_count: int, name: str) -> Reservation:
        cloud, _, shade_type = offer.instance_type.partition("_")
        if not shade_type or gpu_count != offer.gpu_count:
            raise ProviderRejected(
                f"shadeform cannot create {offer.instance_type} x{gpu_count}", provider=self.provider
            )
        body: dict[str, Any] = {
            "cloud": cloud,
            "region": offer.region,
            "shade_instance_type": shade_type,
            "shade_cloud": True,
            "name": name,
        }
        if self._ssh_key_id:
            body["ssh_key_id"] = self._ssh_key_id
        _, answer = self.call("POST", "/v1/instances/create", body, once=True)
        instance_id = (answer or {}).get("id") if isinstance(answer, dict) else None
        if not instance_id:
            raise ProviderRejected("shadeform created nothing", provider=self.provider)
        return Reservation(self.provider, str(instance_id), InstanceStatus.PENDING)

    def find_by_name(self, name: str) -> Reservation | None:
        _, answer = self.call("GET", "/v1/instances")
        for row in (answer or {}).get("instances") or []:
            if isinstance(row, dict) and row.get("name") == name and row.get("status") not in ("deleted", "error"):
                return self._reservation(row)
        return None

    def describe(self, instance_id: str) -> Reservation:
        answer = self.call_unless_gone("GET", f"/v1/instances/{instance_id}/info")
        if answer is None:
            return Reservation(self.provider, instance_id, InstanceStatus.TERMINATED)
        return self._reservation(answer if isinstance(answer, dict) else {})

    def release(self, instance_id: str) -> None:
        self.call_unless_gone("POST", f"/v1/instances/{instance_id}/delete")  # a 404: nothing to undo

    def _reservation(self, row: dict[str, Any]) -> Reservation:
        port = row.get("ssh_port")
        return Reservation(
            self.provider,
            str(row.get("id")),
            _STATUS.get(text(row.get("status")), InstanceStatus.PENDING),
            connection=ConnectionDetails(
                host=row.get("ip") or None, port=port if isinstance(port, int) else None, user=row.get("ssh_user")
            ),
        )

    def _classify(self, status: int, body: Any) -> ProvisioningError | None:
        if 200 <= status < 300:
            return None
        message = text((body or {}).get("error")) if isinstance(body, dict) else ""
        low = message.lower()
        details = {"provider": self.provider, "status": status}
        if 400 <= status < 500 and status not in (401, 403, 404, 429):
            if any(word in low for word in _QUOTA):
                return QuotaExceeded(f"shadeform: {message}", provider=self.provider, details=details)
            if any(word in low for word in _NO_CAPACITY):
                return NoCapacity(f"shadeform: {message}", provider=self.provider, details=details)
        return _http_default(self.provider, status, body)
