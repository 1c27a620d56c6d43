"""What a booking holds at a provider: a reservation (an instance) and its status. Pure data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class InstanceStatus(StrEnum):
    PENDING = "pending"  # accepted, booting
    RUNNING = "running"
    TERMINATING = "terminating"
    TERMINATED = "terminated"  # gone, or never existed ("nothing to undo")
    FAILED = "failed"


@dataclass(frozen=True)
class ConnectionDetails:
    """How the user reaches the instance. Secret-ish: ``repr`` and ``str`` never show it, so a logged
    Reservation cannot leak it; only the confirm step reads the fields to store them."""

    host: str | None = None
    port: int | None = None
    user: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return "ConnectionDetails(<redacted>)"

    __str__ = __repr__

    def as_dict(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "user": self.user, **self.extra}


@dataclass(frozen=True)
class Reservation:
    provider: str
    instance_id: str
    status: InstanceStatus
    idempotency_key: str | None = None
    connection: ConnectionDetails = field(default_factory=ConnectionDetails, repr=False)


_KEY = re.compile(r"[^a-z0-9-]+")


def instance_name(idempotency_key: str) -> str:
    """The name/label we give an instance at the provider: derived only from the idempotency key, so a retried
    create can find what an earlier attempt made. Lower-case, [a-z0-9-], at most 60 characters (Lambda: 64)."""
    slug = _KEY.sub("-", idempotency_key.lower()).strip("-")
    if not slug:
        raise ValueError("empty idempotency key")
    return ("gpub-" + slug)[:60]
