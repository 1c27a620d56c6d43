"""The JWT signing keys, held in a Secrets Manager secret, with a rotation path; their public half, published in an
SSM parameter that every verifier reads (no verifier can read a private key).

The secret's value is the key document of ``gpubroker.domain.key_rotation``, which holds the rotation policy (which
key signs, when a rotated-in key starts, when an old one retires); this module stores and publishes it.

An empty secret is bootstrapped once (its first key signs at once: no token exists yet): the write carries a fixed
ClientRequestToken, so of two cold starts racing to bootstrap, one writes and the other reads the winner's key.
The signers also keep the public parameter in step: each time one re-reads the secret it rewrites the parameter if
it differs (a publish lost between two writes heals within one cache period).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from gpubroker.adapters.aws import client
from gpubroker.domain.key_rotation import CACHE_TTL_S, REFETCH_UNKNOWN_S, KeyRotation, pending, ring_from, rotated
from gpubroker.domain.tokens import KeyRing, PublishedKeys

log = logging.getLogger(__name__)

BOOTSTRAP_REQUEST = "gpubroker-signing-keys-bootstrap-v1"


def _canonical(jwks: dict[str, Any]) -> str:
    return json.dumps(jwks, sort_keys=True, separators=(",", ":"))


class SecretsKeyRing:
    """The signers' key ring (``KeyRingSource``): the secret, cached ``ttl_s``; bootstraps and rotates it, and
    publishes its public keys to ``parameter``."""

    def __init__(self, secret_id: str, parameter: str, *, ttl_s: float = CACHE_TTL_S,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.secret_id = secret_id
        self.parameter = parameter
        self._ttl = ttl_s
        self._now = clock
        self._cached: tuple[float, KeyRing] | None = None

    def _read(self) -> dict[str, Any] | None:
        sm = client("secretsmanager")
        try:
            raw = sm.get_secret_value(SecretId=self.secret_id).get("SecretString") or ""
        except sm.exceptions.ResourceNotFoundException:
            raw = ""
        doc = json.loads(raw) if raw.strip() else {}
        return doc if doc.get("keys") else None

    def _bootstrap(self) -> dict[str, Any]:
        doc = rotated({}, self._now())
        sm = client("secretsmanager")
        with contextlib.suppress(sm.exceptions.ResourceExistsException):  # another cold start was first: use its key
            sm.put_secret_value(SecretId=self.secret_id, SecretString=json.dumps(doc),
                                ClientRequestToken=BOOTSTRAP_REQUEST)  # fmt: skip
        again = self._read()
        if again is None:
            raise RuntimeError(f"signing keys secret {self.secret_id} could not be bootstrapped")
        return again

    def publish(self, ring: KeyRing) -> bool:
        """Write the ring's JWKS to the public parameter unless it already holds it. True when it wrote."""
        ssm = client("ssm")
        value = _canonical(ring.jwks())
        try:
            current = ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            current = None
        if current == value:
            return False
        ssm.put_parameter(Name=self.parameter, Value=value, Type="String", Overwrite=True)
        return True

    def ring(self) -> KeyRing:
        now = self._now()
        if self._cached is None or now - self._cached[0] >= self._ttl:
            doc = self._read()
            ring = ring_from(doc or self._bootstrap(), now)
            if doc is None:
                self.publish(ring)  # a bootstrap: its key signs at once, so it must be published first
            else:
                try:  # keep the parameter in step; a failure here is retried at the next read
                    self.publish(ring)
                except Exception:
                    log.warning("could not publish the public signing keys", exc_info=True)
            self._cached = (now, ring)
        return self._cached[1]

    def rotate(self) -> KeyRotation:
        """Rotate (the scheduled rotation function calls this): write the new key, then publish it. A rotation
        already in progress is not doubled: its pending key is returned. Returns the pending key's ``kid`` and
        ``active_from``, and ``rotated`` (whether this call added it)."""
        now = self._now()
        doc = self._read() or {}
        waiting = pending(doc, now)
        added = waiting is None
        if waiting is None:
            doc = rotated(doc, now)
            client("secretsmanager").put_secret_value(SecretId=self.secret_id, SecretString=json.dumps(doc))
            waiting = doc["keys"][-1]
        self.publish(ring_from(doc, now))
        self._cached = None
        return KeyRotation(kid=waiting["kid"], active_from=waiting["active_from"], rotated=added)


class ParameterPublicKeys:
    """The verifiers' keys (``Verifier``): the JWKS in the public parameter, cached ``ttl_s``. A ``kid`` it does
    not know makes it read the parameter again, at most every ``refetch_s`` (a stream of made-up ``kid`` values
    costs one read per ``refetch_s``).

    An empty set is never cached: before the first login bootstraps the signing key the parameter holds no key,
    and the bootstrap publishes that key before it signs, so every read until then asks again (a cached empty set
    refused, and ``GET /.well-known/jwks.json`` served, the bootstrapped key's tokens for a whole ``ttl_s``)."""

    def __init__(self, parameter: str, *, ttl_s: float = CACHE_TTL_S, refetch_s: float = REFETCH_UNKNOWN_S,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.parameter = parameter
        self._ttl = ttl_s
        self._refetch = refetch_s
        self._now = clock
        self._cached: tuple[float, PublishedKeys] | None = None

    def _read(self, now: float) -> PublishedKeys:
        ssm = client("ssm")
        try:
            raw = ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            raw = ""
        try:
            doc = json.loads(raw) if raw.strip() else {}
        except ValueError:
            log.error("the public signing keys parameter %s is not JSON", self.parameter)
            doc = {}
        keys = PublishedKeys.from_jwks(doc)
        self._cached = (now, keys) if keys.keys else None
        return keys

    def keys(self) -> PublishedKeys:
        now = self._now()
        if self._cached is None or now - self._cached[0] >= self._ttl:
            return self._read(now)
        return self._cached[1]

    def public_key(self, kid: str) -> Any:
        keys = self.keys()
        key = keys.public_key(kid)
        if key is None and self._cached is not None and self._now() - self._cached[0] >= self._refetch:
            key = self._read(self._now()).public_key(kid)
        return key

    def jwks(self) -> dict[str, Any]:
        return self.keys().jwks()
