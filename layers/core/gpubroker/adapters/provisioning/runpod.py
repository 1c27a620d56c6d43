"""RunPod create-instance API: GraphQL at ``POST /graphql`` (``Authorization: Bearer <api_key>``).

- Create: ``mutation podFindAndDeployOnDemand(input: {cloudType, gpuCount, gpuTypeId, name, imageName,
  containerDiskInGb, volumeInGb, ports, startSsh, supportPublicIp})`` -> ``{"data": {"podFindAndDeployOnDemand":
  {id, name, desiredStatus, imageName, machineId}}}``.
- Terminate: ``mutation podTerminate(input: {podId})`` -> ``{"data": {"podTerminate": null}}``.
- Describe: ``query pod(input: {podId}) {id name desiredStatus runtime {ports {ip isIpPublic privatePort
  publicPort type}}}`` (``pod`` is null when it is gone); list: ``query myself {pods {...}}``.
- GPU type ids: the offer carries RunPod's display name (``instance_type`` ``{count}x_{Display-Name}_{CLOUD}``,
  adapters/providers/runpod.py); ``query gpuTypes {id displayName}`` maps it to the id the create needs.
- Errors come as HTTP 200 with ``{"errors": [{"message", "path", "extensions": {"code"}}], "data": {...: null}}``:
  "There are no longer any instances available with the requested specifications..." is NoCapacity, a message
  about balance/funds/quota QuotaExceeded; a bad key is HTTP 401.

Idempotency: the pod ``name`` is ours (from the idempotency key); ``myself { pods { name } }`` finds it.
"""

from __future__ import annotations

from typing import Any

from gpubroker.adapters.provisioning._base import HttpCapacityProvider, _http_default, text
from gpubroker.domain.errors import (
    NoCapacity,
    ProviderRejected,
    ProviderUnavailable,
    ProvisioningError,
    QuotaExceeded,
)
from gpubroker.domain.offers import Offer
from gpubroker.domain.provisioning import ConnectionDetails, InstanceStatus, Reservation

_POD_FIELDS = "id name desiredStatus runtime { ports { ip isIpPublic privatePort publicPort type } }"
DEPLOY = (
    "mutation Deploy($input: PodFindAndDeployOnDemandInput!) {"
    " podFindAndDeployOnDemand(input: $input) { id name desiredStatus imageName machineId } }"
)
TERMINATE = "mutation Terminate($podId: String!) { podTerminate(input: {podId: $podId}) }"
POD = "query Pod($podId: String!) { pod(input: {podId: $podId}) { " + _POD_FIELDS + " } }"
PODS = "query Pods { myself { pods { " + _POD_FIELDS + " } } }"
GPU_TYPES = "query GpuTypeIds { gpuTypes { id displayName } }"
_NO_CAPACITY = ("no longer any instances available", "no instances available", "not enough capacity")
_QUOTA = ("balance", "funds", "quota", "spend limit", "limit reached")
_STATUS = {"RUNNING": InstanceStatus.RUNNING, "EXITED": InstanceStatus.TERMINATING,
           "TERMINATED": InstanceStatus.TERMINATED}  # fmt: skip


class RunPodCapacity(HttpCapacityProvider):
    provider = "runpod"
    default_base_url = "https://api.runpod.io"

    def __init__(
        self, *, image: str = "runpod/pytorch:2.1.0-py3.10-cuda11.8.0-devel-ubuntu22.04", disk_gb: int = 40, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self._image = image
        self._disk_gb = disk_gb

    def graphql(self, query: str, variables: dict[str, Any] | None = None, *, once: bool = False) -> dict[str, Any]:
        _, answer = self.call("POST", "/graphql", {"query": query, "variables": variables or {}}, once=once)
        return (answer or {}).get("data") or {}

    def _create(self, offer: Offer, gpu_count: int, name: str) -> Reservation:
        _, _, rest = offer.instance_type.partition("x_")
        slug, _, cloud = rest.rpartition("_")
        if cloud not in ("SECURE", "COMMUNITY"):
            slug, cloud = rest, "ALL"
        types = self.graphql(GPU_TYPES).get("gpuTypes") or []
        gpu_type_id = next(
            (t["id"] for t in types if isinstance(t, dict) and text(t.get("displayName")).replace(" ", "-") == slug),
            None,
        )
        if gpu_type_id is None:
            raise ProviderRejected(f"runpod has no GPU type {slug!r}", provider=self.provider)
        variables = {
            "input": {
                "cloudType": cloud,
                "gpuCount": gpu_count,
                "gpuTypeId": gpu_type_id,
                "name": name,
                "imageName": self._image,
                "containerDiskInGb": self._disk_gb,
                "volumeInGb": 0,
                "ports": "22/tcp",
                "startSsh": True,
                "supportPublicIp": True,
            }
        }
        pod = self.graphql(DEPLOY, variables, once=True).get("podFindAndDeployOnDemand")
        if not isinstance(pod, dict) or not pod.get("id"):
            raise ProviderRejected("runpod deployed nothing", provider=self.provider)
        return Reservation(self.provider, str(pod["id"]), InstanceStatus.PENDING)

    def find_by_name(self, name: str) -> Reservation | None:
        pods = (self.graphql(PODS).get("myself") or {}).get("pods") or []
        for pod in pods:
            if isinstance(pod, dict) and pod.get("name") == name and pod.get("desiredStatus") != "TERMINATED":
                return self._reservation(pod)
        return None

    def describe(self, instance_id: str) -> Reservation:
        pod = self.graphql(POD, {"podId": instance_id}).get("pod")
        if not isinstance(pod, dict):
            return Reservation(self.provider, instance_id, InstanceStatus.TERMINATED)
        return self._reservation(pod)

    def release(self, instance_id: str) -> None:
        if self.describe(instance_id).status is InstanceStatus.TERMINATED:
            return  # nothing to undo
        try:
            self.graphql(TERMINATE, {"podId": instance_id})
        except ProviderRejected as exc:
            if "not found" not in exc.message.lower():
                raise

    def _reservation(self, pod: dict[str, Any]) -> Reservation:
        runtime = pod.get("runtime") if isinstance(pod.get("runtime"), dict) else None
        status = _STATUS.get(text(pod.get("desiredStatus")), InstanceStatus.PENDING)
        if status is InstanceStatus.RUNNING and runtime is None:
            status = InstanceStatus.PENDING  # no runtime yet: still pulling the image
        ssh = next(
            (p for p in (runtime or {}).get("ports") or [] if isinstance(p, dict) and p.get("privatePort") == 22),
            None,
        )
        connection = (
            ConnectionDetails(host=ssh.get("ip"), port=ssh.get("publicPort"), user="root")
            if ssh
            else ConnectionDetails()
        )
        return Reservation(self.provider, str(pod.get("id")), status, connection=connection)

    def _classify(self, status: int, body: Any) -> ProvisioningError | None:
        default = _http_default(self.provider, status, body)
        if default is not None:
            return default
        errors = body.get("errors") if isinstance(body, dict) else None
        if not errors:
            return None
        message = "; ".join(text(e.get("message")) for e in errors if isinstance(e, dict)) or "GraphQL error"
        low = message.lower()
        details = {"provider": self.provider, "status": status}
        if any(p in low for p in _NO_CAPACITY):
            return NoCapacity(f"runpod: {message}", provider=self.provider, details=details)
        if any(p in low for p in _QUOTA):
            return QuotaExceeded(f"runpod: {message}", provider=self.provider, details=details)
        if "internal server error" in low or "timed out" in low:
            return ProviderUnavailable(f"runpod: {message}", provider=self.provider, details=details)
        return ProviderRejected(f"runpod: {message}", provider=self.provider, details=details)
