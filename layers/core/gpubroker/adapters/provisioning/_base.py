"""What the create-instance adapters share: one HTTP call with the provider's error mapping, and the idempotent
``reserve`` (look the key up, create once, look it up again after an ambiguous failure).

A create is never retried blindly: ``HttpClient.attempt`` makes exactly one attempt. Each provider lets us name
the instance (RunPod ``name``, Lambda ``name``, Vast ``label``, Shadeform ``name``); the name is derived from the
idempotency key only (``instance_name``), and each provider lists our instances with their names. So ``reserve``
first looks the name up (a retry of the saga step finds what an earlier attempt made), then creates with one
attempt, and after a timeout, a dropped connection or a 5xx it looks the name up again before it reports
``ProviderUnavailable`` (transient: the saga retries the step with the same key, which looks up first again).
Read calls and terminate are idempotent: they are retried (bounded) on transient failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from gpubroker.adapters.providers.http import HttpClient, TransportFailed, join
from gpubroker.domain.errors import (
    ProviderAuthFailed,
    ProviderRejected,
    ProviderUnavailable,
    ProvisioningError,
    SourceError,
)
from gpubroker.domain.offers import Offer
from gpubroker.domain.provisioning import Reservation, instance_name

Classifier = Callable[[int, Any], ProvisioningError | None]


class HttpCapacityProvider:
    provider = ""
    default_base_url = ""

    def __init__(
        self, *, api_key: str, base_url: str | None = None, http: HttpClient | None = None, read_attempts: int = 3
    ) -> None:
        self._key = api_key
        self._base = base_url or self.default_base_url
        self._http = (http or HttpClient(timeout_s=30.0)).with_provider(self.provider)
        self._read_attempts = read_attempts

    # -- the port -----------------------------------------------------------------------------------------------
    def reserve(self, offer: Offer, *, gpu_count: int, idempotency_key: str) -> Reservation:
        name = instance_name(idempotency_key)
        found = self.find_by_name(name)
        if found is not None:
            return _keyed(found, idempotency_key)
        try:
            made = self._create(offer, gpu_count, name)
        except ProviderUnavailable:
            found = self.find_by_name(name)  # the create may have landed before the answer was lost
            if found is not None:
                return _keyed(found, idempotency_key)
            raise
        return _keyed(made, idempotency_key)

    # -- per provider -------------------------------------------------------------------------------------------
    def _create(self, offer: Offer, gpu_count: int, name: str) -> Reservation:
        raise NotImplementedError

    def find_by_name(self, name: str) -> Reservation | None:
        raise NotImplementedError

    def describe(self, instance_id: str) -> Reservation:
        raise NotImplementedError

    def release(self, instance_id: str) -> None:
        raise NotImplementedError

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"}

    def _classify(self, status: int, body: Any) -> ProvisioningError | None:
        """The provider's error for an answer, or None when it is a success."""
        return _http_default(self.provider, status, body)

    def call_unless_gone(self, method: str, path: str, body: Any = None) -> Any | None:
        """:meth:`call` on one instance: its parsed answer, or None when the provider says it does not exist (404):
        a describe finds it terminated, a release has nothing to undo."""
        try:
            return self.call(method, path, body)[1]
        except ProviderRejected as exc:
            if (exc.details or {}).get("status") == 404:
                return None
            raise

    # -- HTTP ---------------------------------------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None, *, once: bool = False) -> tuple[int, Any]:
        """One API call: ``once`` (a create) makes a single attempt; otherwise transient failures are retried up
        to ``read_attempts`` times. Raises the mapped ``ProvisioningError``; returns (status, parsed JSON)."""
        attempts = 1 if once else max(1, self._read_attempts)
        last: ProvisioningError | None = None
        for attempt in range(1, attempts + 1):
            try:
                status, parsed = self._send(method, path, body)
            except ProviderUnavailable as exc:
                last = exc
            else:
                error = self._classify(status, parsed)
                if error is None:
                    return status, parsed
                if not error.transient:
                    raise error
                last = error
            if attempt < attempts:
                self._http.sleep(self._http._delay(attempt, None))
        assert last is not None
        raise last

    def _send(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        headers = {**self._headers(), "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        try:
            response = self._http.attempt(method, join(self._base, path), headers=headers, data=data)
        except TransportFailed as exc:
            raise ProviderUnavailable(
                exc.message, provider=self.provider, details={"timed_out": exc.timed_out}
            ) from None
        except SourceError as exc:  # TLS failure, breaker open
            raise ProviderUnavailable(exc.message, provider=self.provider) from None
        try:
            parsed = json.loads(response.body.decode("utf-8-sig")) if response.body.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            parsed = None  # an HTML error page: the status decides
        return response.status, parsed


def _keyed(found: Reservation, key: str) -> Reservation:
    return Reservation(found.provider, found.instance_id, found.status, key, found.connection)


def _http_default(provider: str, status: int, body: Any) -> ProvisioningError | None:
    """The status alone: 2xx ok, 401/403 auth, 429/5xx transient, other 4xx rejected."""
    if 200 <= status < 300:
        return None
    where = {"provider": provider, "status": status}
    if status in (401, 403):
        return ProviderAuthFailed(f"{provider} refused our API key (HTTP {status})", provider=provider, details=where)
    if status == 429 or status >= 500:
        return ProviderUnavailable(f"{provider} answered HTTP {status}", provider=provider, details=where)
    return ProviderRejected(f"{provider} refused the request (HTTP {status})", provider=provider, details=where)


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def url_path(*parts: str) -> str:
    return "/" + "/".join(p.strip("/") for p in parts)
