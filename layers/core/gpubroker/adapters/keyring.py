"""The JWT signing keys, held in a Secrets Manager secret, with a rotation path; their public half, published in an
SSM parameter that every verifier reads (no verifier can read a private key).

Secret value: ``{"keys": [{"kid", "private_pem", "active_from": <epoch s>, "retire_at": <epoch s or null>}]}``.
The key that signs is the live one with the latest ``active_from`` that has come. Rotation adds a key that starts
signing ``PUBLISH_LEAD_S`` later and gives every older key a ``retire_at``:

- *publish before use*: the new key is written to the public parameter at once and signs only after every
  verifier's cache (``CACHE_TTL_S``) has read it, so no verifier meets a ``kid`` it has not seen;
- *retire after expiry*: an old key stays published until every token it can have signed has expired (its
  signers may keep it one cache period after the switch, then the access-token lifetime, then the leeway).

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
from gpubroker.domain.tokens import ACCESS_TTL_S, MAX_LEEWAY_S, KeyRing, PublishedKeys, SigningKey, new_signing_key

log = logging.getLogger(__name__)

BOOTSTRAP_REQUEST = "gpubroker-signing-keys-bootstrap-v1"
CACHE_TTL_S = 300.0
"""How long a signer keeps the secret, and a verifier the public keys, before reading them again."""
PUBLISH_LEAD_S = 2 * CACHE_TTL_S
"""A rotated-in key is published this long before it signs: every verifier has re-read the keys by then."""
RETIRE_AFTER_S = CACHE_TTL_S + ACCESS_TTL_S + MAX_LEEWAY_S
"""An old key stays published this long after its successor starts signing."""
REFETCH_UNKNOWN_S = 10.0
"""A verifier that meets an unknown ``kid`` re-reads the public keys, at most this often."""


def _live(doc: dict[str, Any], now: float) -> list[dict[str, Any]]:
    return [k for k in doc.get("keys", []) if k.get("retire_at") is None or float(k["retire_at"]) > now]


def _signing(keys: list[dict[str, Any]], now: float) -> dict[str, Any]:
    """The key that signs at ``now``: the latest ``active_from`` that has come (the earliest one if none has)."""
    started = [k for k in keys if float(k.get("active_from", 0)) <= now]
    if not started:
        return min(keys, key=lambda k: float(k.get("active_from", 0)))
    return max(started, key=lambda k: float(k.get("active_from", 0)))


def ring_from(doc: dict[str, Any], now: float) -> KeyRing:
    keys = _live(doc, now)
    by_kid = {k["kid"]: SigningKey(k["kid"], k["private_pem"].encode()) for k in keys}
    return KeyRing(active=by_kid[_signing(keys, now)["kid"]], published=tuple(by_kid.values()))


def pending(doc: dict[str, Any], now: float) -> dict[str, Any] | None:
    """A rotated-in key that does not sign yet (a rotation in progress), if any."""
    return next((k for k in _live(doc, now) if float(k.get("active_from", 0)) > now), None)


def rotated(doc: dict[str, Any], now: float, new: SigningKey | None = None) -> dict[str, Any]:
    """The secret's next value: a new key that signs from ``now + PUBLISH_LEAD_S`` (at once on an empty secret);
    every key before it retires ``RETIRE_AFTER_S`` after that. Retired keys are dropped."""
    keys = _live(doc, now)
    start = now + PUBLISH_LEAD_S if keys else now
    new = new or new_signing_key()
    out = [k if k.get("retire_at") is not None else {**k, "retire_at": start + RETIRE_AFTER_S} for k in keys]
    out.append({"kid": new.kid, "private_pem": new.private_pem.decode(), "active_from": start, "retire_at": None})
    return {"keys": out}


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

    def rotate(self) -> dict[str, Any]:
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
        return {"kid": waiting["kid"], "active_from": waiting["active_from"], "rotated": added}


class ParameterPublicKeys:
    """The verifiers' keys (``Verifier``): the JWKS in the public parameter, cached ``ttl_s``. A ``kid`` it does
    not know makes it read the parameter again, at most every ``refetch_s`` (a cold cache just after a bootstrap
    heals at once; a stream of made-up ``kid`` values costs one read per ``refetch_s``)."""

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
        self._cached = (now, keys)
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
