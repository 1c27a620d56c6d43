"""The JWT signing keys, held in a Secrets Manager secret, with a rotation path.

Secret value: ``{"active": <kid>, "keys": [{"kid", "private_pem", "retire_at": <epoch s or null>}]}``. Rotation
adds a new key, makes it active and gives the previous one a ``retire_at`` of now + the access-token lifetime + the
leeway: its tokens keep verifying (it stays in the JWKS) until none can still be alive, then it is dropped.
An empty secret is bootstrapped once: the write carries a fixed ClientRequestToken, so of two cold starts racing
to bootstrap, one writes and the other reads the winner's key.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from gpubroker.adapters.aws import client
from gpubroker.domain.tokens import ACCESS_TTL_S, MAX_LEEWAY_S, KeyRing, SigningKey, new_signing_key

BOOTSTRAP_REQUEST = "gpubroker-signing-keys-bootstrap-v1"


def ring_from(doc: dict[str, Any], now: float) -> KeyRing:
    keys = [k for k in doc.get("keys", []) if k.get("retire_at") is None or float(k["retire_at"]) > now]
    by_kid = {k["kid"]: SigningKey(k["kid"], k["private_pem"].encode()) for k in keys}
    return KeyRing(active=by_kid[doc["active"]], published=tuple(by_kid.values()))


def rotated(doc: dict[str, Any], now: float, new: SigningKey | None = None) -> dict[str, Any]:
    """The secret's next value: a new active key; the old active one retires once its tokens have expired."""
    new = new or new_signing_key()
    keys = []
    for key in doc.get("keys", []):
        if key.get("retire_at") is not None and float(key["retire_at"]) <= now:
            continue  # retired: dropped from the JWKS
        if key["kid"] == doc.get("active"):
            key = {**key, "retire_at": now + ACCESS_TTL_S + MAX_LEEWAY_S}  # noqa: PLW2901 - the retiring copy
        keys.append(key)
    keys.append({"kid": new.kid, "private_pem": new.private_pem.decode(), "retire_at": None})
    return {"active": new.kid, "keys": keys}


class SecretsKeyRing:
    def __init__(self, secret_id: str, *, ttl_s: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self.secret_id = secret_id
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

    def ring(self) -> KeyRing:
        now = self._now()
        if self._cached is None or now - self._cached[0] >= self._ttl:
            doc = self._read() or self._bootstrap()
            self._cached = (now, ring_from(doc, now))
        return self._cached[1]

    def rotate(self) -> str:
        """Rotate now (the scheduled rotation function calls this). Returns the new active kid."""
        doc = rotated(self._read() or {}, self._now())
        client("secretsmanager").put_secret_value(SecretId=self.secret_id, SecretString=json.dumps(doc))
        self._cached = None
        return str(doc["active"])
