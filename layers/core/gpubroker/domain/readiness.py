"""Readiness (``GET /health/ready``), apart from liveness (``GET /health``).

``/health`` says the API answers: it touches nothing. ``/health/ready`` says the searches can answer: an offer
snapshot is published (its manifest names a version, and the manifest is written after the data it names, so
the data is there). A reader that cached an older manifest sees the new one within ``SNAPSHOT_TTL_SECONDS``;
``searchable_within_s`` says so. The local stack prints "ready" only after this answers 200 and a WebSocket
subscribe round trip works (infra/local/__main__.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    snapshot_version: str = Field(description="the latest published offer snapshot")
    created_at: AwareDatetime = Field(description="when that snapshot was published")
    offers: int = Field(ge=0, description="offers in it (available or not)")
    providers: int = Field(ge=0, description="providers with offers in it")
    stale: bool = Field(description="true when any provider's last run failed (its offers are its last good ones)")
    searchable_within_s: float = Field(
        ge=0, description="every search function reads this snapshot at most this long after it was published"
    )
