"""The signing-key rotation policy: when a rotated-in key starts signing, when an old key retires, and which key
signs at a given time. Pure: the key document in, the next one out (``adapters/keyring.py`` stores it).

Document: ``{"keys": [{"kid", "private_pem", "active_from": <epoch s>, "retire_at": <epoch s or null>}]}``. The
key that signs is the live one with the latest ``active_from`` that has come. Rotation adds a key that starts
signing ``PUBLISH_LEAD_S`` later and gives every older key a ``retire_at``:

- *publish before use*: the new key is published at once and signs only after every verifier's cache
  (``CACHE_TTL_S``) has read it, so no verifier meets a ``kid`` it has not seen;
- *retire after expiry*: an old key stays published until every token it can have signed has expired (its
  signers may keep it one cache period after the switch, then the access-token lifetime, then the leeway).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gpubroker.domain.tokens import ACCESS_TTL_S, MAX_LEEWAY_S, KeyRing, SigningKey, new_signing_key

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


class KeyRotation(BaseModel):
    """What a rotation run did: the pending key (``kid``, signing from ``active_from``, epoch seconds) and whether
    this run added it."""

    kid: str
    active_from: float
    rotated: bool
