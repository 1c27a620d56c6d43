"""What every API function's ``Deps`` carries besides its own ports: the front door's (the plan rate limit and the
token check that names a public route's caller) and, on a mutating route, the audit trail's.

The composition root (``gpubroker.wiring``) builds them; ``api_handler`` puts the function's ``Deps`` in
``app.context["deps"]``, where the front door (``api.ratelimit.front_door``) and the audit middleware
(``api.audit.audit_middleware``) read them. Tests pass fakes in the same fields: nothing reaches a handler through
a hidden global.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gpubroker.domain.plans import WINDOW_S

if TYPE_CHECKING:  # annotations only: ports.py pulls in the offer models, identity PyJWT and cryptography
    from gpubroker.ports import AuditLog, AuditSpool, RateLimiter
    from gpubroker.services.identity import IdentityDeps

IdentityFactory = Callable[[], "IdentityDeps"]
"""Builds the token check on first use (``gpubroker.wiring.auth.public_identity_deps``)."""


@dataclass(frozen=True)
class FrontDoor:
    """The rate-limit middleware's ports: the limiter, its window, what builds the token check that names a
    public route's caller (None when no signing keys are configured: every caller without an authorizer context
    is anonymous), and the origin secret that tells a request from the web app's CloudFront distribution."""

    limiter: RateLimiter
    identity: IdentityFactory | None = None
    window_s: float = WINDOW_S
    # what CloudFront adds to every request it sends the API (api.client_ip): only a request carrying it has its
    # CloudFront-Viewer-Address believed; empty: sourceIp always
    origin_secret: str = field(default="", repr=False)


@dataclass(frozen=True)
class AuditTrail:
    """Where a mutating route's audit entry goes: the log, and the spool that keeps an entry whose append failed."""

    log: AuditLog
    spool: AuditSpool


@dataclass(frozen=True, kw_only=True)
class ApiDeps:
    """The ports of an API function that needs nothing but its front door (``GET /health``); every API function's
    ``Deps`` extends it."""

    front_door: FrontDoor


@dataclass(frozen=True, kw_only=True)
class AuditedApiDeps(ApiDeps):
    """The ports of a function with a mutating route: its front door and the audit trail every request appends to."""

    audit: AuditTrail
