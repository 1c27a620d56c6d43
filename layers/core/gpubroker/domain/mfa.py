"""TOTP second factor (RFC 6238): codes, drift, replay, recovery codes, login/enrolment challenges. Pure rules.

TOTP as configured here: HMAC-SHA1, 6 digits, 30-s steps (what every authenticator app implements), a 160-bit
random secret. pyotp computes the codes; the acceptance rule is ours (FIELD-NOTES: pyotp's ``verify()`` accepts the
same code twice): :func:`matching_step` accepts a code of the steps ``t-1, t, t+1`` only (at most one step of
drift either way) and only when that step is *later* than the last step this account ever used. The caller then
records the step with a conditional write (``mfa_last_step < step``), so a code works once, even when two
requests carry it at the same moment: exactly one conditional write wins.

A code must be six ASCII digits: pyotp NFKC-normalises before comparing, which would let full-width or other
Unicode digits through; we compare bytes with ``hmac.compare_digest`` after checking the shape.

Recovery codes: 10 per account, each 16 random base32 characters (80 bits) shown as ``xxxx-xxxx-xxxx-xxxx``; only
their SHA-256 is stored. A fast unsalted hash is right here (unlike passwords) because the codes are uniformly
random with 80 bits of entropy: nothing is gained by guessing in a dictionary, and 2^80 hashes is out of reach,
so a slow KDF would only cost Lambda time. A code is consumed by a conditional delete of its hash from the set.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pyotp

ISSUER = "GPUBroker"
DIGITS = 6
PERIOD_S = 30
DRIFT_STEPS = 1  # accepted: the steps t-1, t, t+1
CHALLENGE_TTL_S = 5 * 60
MAX_ATTEMPTS = 5  # codes tried against one challenge (right or wrong) before it is spent
RECOVERY_CODES = 10
RECOVERY_GROUPS, RECOVERY_GROUP_LEN = 4, 4
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_TOTP_CODE = re.compile(r"[0-9]{6}")  # not \d: that matches every Unicode digit
_RECOVERY = re.compile(r"[a-z2-7]{16}")
ChallengeKind = Literal["enroll", "login"]


@dataclass(frozen=True)
class Challenge:
    """A pending second step: ``enroll`` (confirm a new secret) or ``login`` (the password was right).

    The id is a bearer secret (256 bits) handed to the client; it names the account so the public verify route
    needs nothing else. Spent by a conditional delete on success; at most ``MAX_ATTEMPTS`` codes per challenge."""

    challenge_id: str
    kind: ChallengeKind
    user_id: str
    email: str
    expires_at: int  # epoch seconds (also the table's TTL attribute)
    attempts: int = 0

    def expired(self, now: datetime) -> bool:
        return now.timestamp() >= self.expires_at


@dataclass(frozen=True)
class MfaState:
    """The MFA part of an account's profile."""

    enabled: bool = False
    secret: str | None = None
    pending_secret: str | None = None  # set by enrol, becomes ``secret`` when a code for it is verified
    last_step: int | None = None  # the last TOTP step accepted (replay refusal)
    recovery_hashes: frozenset[str] = frozenset()


def new_challenge(kind: ChallengeKind, *, user_id: str, email: str, now: datetime) -> Challenge:
    return Challenge(challenge_id=secrets.token_urlsafe(32), kind=kind, user_id=user_id, email=email,
                     expires_at=math.floor(now.timestamp()) + CHALLENGE_TTL_S)  # fmt: skip


# ---- TOTP ------------------------------------------------------------------------------------------------------


def totp(secret: str, *, digits: int = DIGITS) -> pyotp.TOTP:
    """The pyotp generator as we configure it (SHA1, 30 s; ``digits`` is 6 in production, 8 for RFC vectors)."""
    import pyotp  # only the MFA paths pay its import

    return pyotp.TOTP(secret, digits=digits, digest=hashlib.sha1, interval=PERIOD_S)


def new_secret() -> str:
    """160 random bits (RFC 4226's recommended length), base32 without padding: 32 characters."""
    return base32(secrets.token_bytes(20))


def base32(raw: bytes) -> str:
    import base64

    return base64.b32encode(raw).decode("ascii").rstrip("=")


def step_at(now: datetime | float) -> int:
    """The RFC 6238 time step ``T = floor(unix_time / 30)``."""
    t = now.timestamp() if isinstance(now, datetime) else now
    return math.floor(t) // PERIOD_S


def code_at(secret: str, step: int, *, digits: int = DIGITS) -> str:
    return totp(secret, digits=digits).generate_otp(step)


def is_totp_code(code: str) -> bool:
    return _TOTP_CODE.fullmatch(code) is not None


def matching_step(secret: str, code: str, now: datetime | float, last_step: int | None) -> int | None:
    """The step whose code ``code`` is, among ``t-1, t, t+1``, and only if it is later than ``last_step``; else
    None. Every candidate is compared (constant time, no early exit); the earliest acceptable step wins, so a
    fast clock burns no more future codes than needed."""
    if not is_totp_code(code):
        return None
    t = step_at(now)
    given = code.encode("ascii")
    matched: int | None = None
    for step in range(max(0, t - DRIFT_STEPS), t + DRIFT_STEPS + 1):
        equal = hmac.compare_digest(code_at(secret, step).encode("ascii"), given)
        if equal and matched is None and (last_step is None or step > last_step):
            matched = step
    return matched


def otpauth_uri(secret: str, email: str) -> str:
    """``otpauth://totp/GPUBroker:<email>?secret=...&issuer=GPUBroker`` (Google's Key Uri Format)."""
    return totp(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_png_data_uri(text: str) -> str:
    """``text`` as a QR code PNG in a ``data:`` URI (segno: pure Python, no Pillow)."""
    import base64
    import io

    import segno

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=5, border=4)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# ---- recovery codes ----------------------------------------------------------------------------------------------


def new_recovery_codes(n: int = RECOVERY_CODES) -> list[str]:
    """``n`` distinct codes ``xxxx-xxxx-xxxx-xxxx`` (lowercase base32, 80 random bits each)."""
    codes: set[str] = set()
    while len(codes) < n:
        raw = "".join(secrets.choice(_BASE32) for _ in range(RECOVERY_GROUPS * RECOVERY_GROUP_LEN))
        codes.add("-".join(raw[i : i + RECOVERY_GROUP_LEN] for i in range(0, len(raw), RECOVERY_GROUP_LEN)))
    return sorted(codes)


def normalise_recovery_code(code: str) -> str | None:
    """The canonical 16 characters (case and hyphens ignored), or None when ``code`` is not shaped like one."""
    canonical = code.strip().lower().replace("-", "")
    return canonical if _RECOVERY.fullmatch(canonical) else None


def recovery_hash(code: str) -> str:
    """SHA-256 hex of the canonical code (see the module docstring for why a fast hash is right)."""
    canonical = normalise_recovery_code(code)
    if canonical is None:
        raise ValueError("not a recovery code")
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def matching_recovery_hash(code: str, hashes: frozenset[str]) -> str | None:
    """The stored hash ``code`` matches, compared in constant time against every stored hash; None if none."""
    if normalise_recovery_code(code) is None:
        return None
    given = recovery_hash(code).encode("ascii")
    found: str | None = None
    for stored in sorted(hashes):
        if hmac.compare_digest(stored.encode("ascii"), given):
            found = stored
    return found
