"""Plans and their request-rate limits: pure data, no I/O.

Every caller is limited per principal: a signed-in user by the rate of their plan, an anonymous caller by source
IP at the free rate. A limit is ``RATE_LIMITS[plan]`` requests in any sliding window of ``WINDOW_S`` seconds
(``gpubroker.adapters.ratelimit`` enforces it; ``gpubroker.api.ratelimit`` turns a refusal into HTTP 429).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Plan(StrEnum):
    FREE = "free"
    PRO = "pro"
    ENTERPRISE = "enterprise"


WINDOW_S: Final = 1.0
"""The length of the sliding window every plan's limit is counted over, in seconds."""

RATE_LIMITS: Final[dict[str, int]] = {"free": 10, "pro": 100, "enterprise": 1000}
"""Requests allowed per principal in any sliding ``WINDOW_S`` window, by plan name (``Plan`` members are keys too)."""

LLM_DAILY_CALLS: Final[dict[str, int]] = {"free": 20, "pro": 500, "enterprise": 5000}
"""Language-model calls a signed-in user may cause per UTC day, by plan (the assistant's parse and chat share it);
past it the assistant answers with its rules engines. Anonymous callers never reach a language model."""


def plan_of(value: object) -> Plan:
    """The plan named by an authorizer's ``plan`` value; absent or unknown is the free plan (never more access)."""
    if isinstance(value, str):
        try:
            return Plan(value.strip().lower())
        except ValueError:
            return Plan.FREE
    return Plan.FREE


@dataclass(frozen=True)
class Decision:
    """One rate-limit decision for one request.

    ``remaining``: requests still allowed in the current window after this one (0 when refused).
    ``reset_s``: seconds until the oldest request counted in the window leaves it, i.e. until ``remaining`` grows
    again (``window_s`` when this request is the only one counted).
    ``retry_after_s``: whole seconds to wait before retrying: ``ceil(reset_s)``, at least 1, when refused; 0 when
    allowed.
    ``at_s``: the limiter's clock at the decision, in seconds (Redis server time for the Redis limiter, the
    injected monotonic clock for the in-memory one); what the enforcement tests measure windows with.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_s: float
    retry_after_s: int
    at_s: float = 0.0
