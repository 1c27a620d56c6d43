"""Rate limiting for the REST API: one Powertools middleware, ``app.use([rate_limit_middleware(limiter)])``.

Who is limited: ``requestContext.authorizer`` (filled by the Lambda authorizer) names ``user_id`` and ``plan``; a
caller with a ``user_id`` is the principal ``user:<user_id>`` at its plan's rate (absent or unknown plan: free);
a caller without one is anonymous, the principal ``ip:<client ip>`` at the free rate (``api.client_ip``: the
source IP, or behind the web app's CloudFront the viewer's address when the request carries the origin secret).
Limits are ``gpubroker.domain.plans.RATE_LIMITS`` per ``WINDOW_S`` (1 s), enforced by any ``RateLimiter`` (in
production ``gpubroker.wiring.edge.rate_limiter(url)``: Redis, else the per-process fallback).

Headers (draft-ietf-httpapi-ratelimit-headers, the structured-field form of drafts 08 onwards) on every response
the middleware sees, allowed or refused::

    RateLimit-Policy: "default";q=<limit>;w=<window seconds>
    RateLimit: "default";r=<remaining>;t=<seconds until the oldest counted request leaves the window, >= 1>

The older ``RateLimit-Limit/-Remaining/-Reset`` trio (draft 07 and earlier) is not sent: it cannot name the
policy, and two header forms that could disagree are worse than one. A refusal is HTTP 429 with the shared
error body ``{"error": {"code": "rate_limited", "message": ..., "details": {"limit", "retry_after"}}}`` and an
integer ``Retry-After`` of at least 1 second.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from gpubroker.api.client_ip import request_ip
from gpubroker.api.cookies import fingerprint_from
from gpubroker.api.errors import error_body
from gpubroker.api.identity import bearer_token
from gpubroker.domain.accounts import Principal
from gpubroker.domain.errors import InvalidToken
from gpubroker.domain.plans import RATE_LIMITS, WINDOW_S, Decision, Plan, plan_of
from gpubroker.observability import count

if TYPE_CHECKING:  # types only: ports.py pulls in the offer models (~25 ms at every cold start)
    from gpubroker.api.deps import ApiDeps, IdentityFactory
    from gpubroker.ports import RateLimiter

POLICY = "default"

Middleware = Callable[[APIGatewayRestResolver, NextMiddleware], Response[Any]]


def principal_of(
    app: APIGatewayRestResolver, identity: IdentityFactory | None = None, origin_secret: str = ""
) -> tuple[str, Plan]:
    """The principal and plan of the current request: the authorizer's user; on a public route (no authorizer),
    the user of a valid bearer token when ``identity`` can check one; else the client IP (free plan; the viewer's
    behind CloudFront when the request carries ``origin_secret``, see ``api.client_ip``). A token that
    does not verify makes the caller anonymous, not refused: a public route needs no token.

    ``identity`` builds the token check on first use, and the check's module (PyJWT and cryptography: ~60 ms of
    imports) loads only when a token arrives, so an anonymous caller's cold start does not pay for it."""
    user = caller_of(app, identity)
    if user is not None:
        return f"user:{user.user_id}", plan_of(user.plan)
    return f"ip:{request_ip(app, origin_secret)}", Plan.FREE


def caller_of(app: APIGatewayRestResolver, identity: IdentityFactory | None = None) -> Principal | None:
    """The signed-in caller of the current request, on a protected route (the authorizer's) or a public one (a
    bearer token that verifies, when ``identity`` can check one); None: anonymous."""
    user = Principal.from_context(dict(app.current_event.request_context.authorizer or {}))
    if user is None and identity is not None:
        token = bearer_token(app.current_event.headers.get("authorization"))
        if token is not None:
            from gpubroker.services.identity import authenticate

            with contextlib.suppress(InvalidToken):
                user = authenticate(token, fingerprint_from(app.current_event.headers), deps=identity())
    return user


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def rate_limit_headers(decision: Decision, window_s: float = WINDOW_S) -> dict[str, str]:
    """``RateLimit-Policy`` and ``RateLimit`` (IETF draft, structured fields) for one decision."""
    reset = max(1, math.ceil(decision.reset_s))
    return {
        "RateLimit-Policy": f'"{POLICY}";q={decision.limit};w={_seconds(window_s)}',
        "RateLimit": f'"{POLICY}";r={decision.remaining};t={reset}',
    }


def rate_limit_middleware(
    limiter: RateLimiter,
    *,
    window_s: float = WINDOW_S,
    identity: IdentityFactory | None = None,
    origin_secret: str = "",
) -> Middleware:
    """A middleware holding each principal to its plan's limit; see the module docstring."""

    def middleware(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
        principal, plan = principal_of(app, identity, origin_secret)
        limit = RATE_LIMITS[plan]
        decision = limiter.check(principal, limit, window_s)
        headers = rate_limit_headers(decision, window_s)
        if not decision.allowed:
            count("RateLimitRefusals", plan=str(plan))
            retry_after = max(1, decision.retry_after_s)
            body = error_body(
                "rate_limited",
                f"rate limit exceeded: {limit} requests per {_seconds(window_s)} s for this caller; "
                f"retry after {retry_after} s",
                {"limit": limit, "retry_after": retry_after},
            )
            return Response(
                status_code=429,
                content_type=content_types.APPLICATION_JSON,
                body=body,
                headers={**headers, "Retry-After": str(retry_after)},
            )
        response = next_middleware(app)
        response.headers.update(headers)
        return response

    return middleware


def front_door(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """The middleware every API function runs (``new_resolver``): the plan rate limit, with the ports of the
    function's ``Deps.front_door`` (``gpubroker.api.deps.FrontDoor``, which ``api_handler`` put in the context)."""
    deps: ApiDeps = app.context["deps"]
    door = deps.front_door
    return rate_limit_middleware(door.limiter, identity=door.identity, window_s=door.window_s,
                                 origin_secret=door.origin_secret)(app, next_middleware)  # fmt: skip
