"""Vast.ai create-instance API (``Authorization: Bearer <api_key>``), as the official ``vastai`` CLI calls it.

- Create (accept an ask): ``PUT /api/v0/asks/{ask_id}/`` ``{client_id: "me", image, disk, label, runtype:
  "ssh"}`` -> ``{"success": true, "new_contract": <instance id>}``.
- Destroy: ``DELETE /api/v0/instances/{id}/`` -> ``{"success": true}``.
- Describe: ``GET /api/v0/instances/{id}/`` -> ``{"instances": {id, label, actual_status, ssh_host, ssh_port,
  public_ipaddr}}`` (null when gone); list: ``GET /api/v0/instances/`` -> ``{"instances": [...]}``.
- Errors: ``{"success": false, "error": "<slug>", "msg": "..."}``: an ask that is gone or taken
  (``no_such_ask``, "... is not available") is NoCapacity, not enough credit QuotaExceeded, 401/403 auth.

Offers: ``instance_type`` is ``{count}x-{gpu}-{ask id}`` (adapters/providers/vast.py): the ask is one machine,
so ``gpu_count`` must be the offer's. Idempotency: ``label`` is ours (from the idempotency key); the instance
list finds it.
"""

from __future__ import annotations

from typing import Any

from gpubroker.adapters.provisioning._base import HttpCapacityProvider, _http_default, text
from gpubroker.domain.errors import NoCapacity, ProviderRejected, ProvisioningError, QuotaExceeded
from gpubroker.domain.offers import Offer
from gpubroker.domain.provisioning import ConnectionDetails, InstanceStatus, Reservation

_STATUS = {"running": InstanceStatus.RUNNING, "loading": InstanceStatus.PENDING, "created": InstanceStatus.PENDING,
           "exited": InstanceStatus.TERMINATING, "offline": InstanceStatus.FAILED}  # fmt: skip
_NO_CAPACITY = ("no_such_ask", "not available", "already rented", "unavailable")
_QUOTA = ("credit", "balance", "insufficient", "limit", "quota")


class VastCapacity(HttpCapacityProvider):
    provider = "vast"
    default_base_url = "https://console.vast.ai"

    def __init__(self, *, image: str = "pytorch/pytorch:latest", disk_gb: int = 32, **kw: Any) -> None:
        super().__init__(**kw)
        self._image = image
        self._disk_gb = disk_gb

    def _create(self, offer: Offer, gpu_count: int, name: str) -> Reservation:
        ask_id = offer.instance_type.rpartition("-")[2]
        if not ask_id.isdigit() or gpu_count != offer.gpu_count:
            raise ProviderRejected(f"vast cannot rent {offer.instance_type} x{gpu_count}", provider=self.provider)
        body = {"client_id": "me", "image": self._image, "disk": self._disk_gb, "label": name, "runtype": "ssh"}
        _, answer = self.call("PUT", f"/api/v0/asks/{ask_id}/", body, once=True)
        contract = (answer or {}).get("new_contract") if isinstance(answer, dict) else None
        if not contract:
            raise ProviderRejected("vast rented nothing", provider=self.provider)
        return Reservation(self.provider, str(contract), InstanceStatus.PENDING)

    def find_by_name(self, name: str) -> Reservation | None:
        _, answer = self.call("GET", "/api/v0/instances/")
        for row in (answer or {}).get("instances") or []:
            if isinstance(row, dict) and row.get("label") == name:
                return self._reservation(row)
        return None

    def describe(self, instance_id: str) -> Reservation:
        answer = self.call_unless_gone("GET", f"/api/v0/instances/{instance_id}/")
        if answer is None:
            return Reservation(self.provider, instance_id, InstanceStatus.TERMINATED)
        row = (answer or {}).get("instances") if isinstance(answer, dict) else None
        if not isinstance(row, dict):
            return Reservation(self.provider, instance_id, InstanceStatus.TERMINATED)
        return self._reservation(row)

    def release(self, instance_id: str) -> None:
        self.call_unless_gone("DELETE", f"/api/v0/instances/{instance_id}/")  # a 404: nothing to undo

    def _reservation(self, row: dict[str, Any]) -> Reservation:
        port = row.get("ssh_port")
        return Reservation(
            self.provider,
            str(row.get("id")),
            _STATUS.get(text(row.get("actual_status")), InstanceStatus.PENDING),
            connection=ConnectionDetails(
                host=row.get("ssh_host") or None, port=port if isinstance(port, int) else None, user="root"
            ),
        )

    def _classify(self, status: int, body: Any) -> ProvisioningError | None:
        failed = isinstance(body, dict) and body.get("success") is False
        if 200 <= status < 300 and not failed:
            return None
        slug = text(body.get("error")) if isinstance(body, dict) else ""
        message = (text(body.get("msg")) if isinstance(body, dict) else "") or slug or f"HTTP {status}"
        low = f"{slug} {message}".lower()
        details = {"provider": self.provider, "status": status, "code": slug}
        if status not in (401, 403, 404, 429) and status < 500:
            if any(p in low for p in _NO_CAPACITY):
                return NoCapacity(f"vast: {message}", provider=self.provider, details=details)
            if any(p in low for p in _QUOTA):
                return QuotaExceeded(f"vast: {message}", provider=self.provider, details=details)
        default = _http_default(self.provider, status if status >= 300 else 400, body)
        if default is not None:
            default.details = details
        return default
