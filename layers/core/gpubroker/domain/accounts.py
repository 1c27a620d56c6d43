"""An account, as the identity services see it."""

from __future__ import annotations

from dataclasses import dataclass

PLANS = ("free", "pro", "enterprise")


@dataclass(frozen=True)
class User:
    user_id: str
    email: str
    password_hash: str
    plan: str = "free"
    roles: tuple[str, ...] = ("user",)
    mfa_secret: str | None = None
    mfa_enabled: bool = False
