"""The caller of a protected route: the Principal the Lambda authorizer put in ``requestContext.authorizer``.

API Gateway runs the authorizer before the function on every protected route, so a function only reads its
result. A protected route reached without one (a template that forgot the ``Auth`` block) answers 401, never runs
as nobody.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from gpubroker.domain.accounts import Principal
from gpubroker.domain.errors import Forbidden, Unauthorized

BEARER = "bearer "


def current_principal(app: APIGatewayRestResolver) -> Principal | None:
    return Principal.from_context(dict(app.current_event.request_context.authorizer or {}))


def require_user(app: APIGatewayRestResolver) -> Principal:
    principal = current_principal(app)
    if principal is None:
        raise Unauthorized("sign in first: this route needs an access token")
    return principal


def require_role(app: APIGatewayRestResolver, role: str) -> Principal:
    principal = require_user(app)
    if not principal.has_role(role):
        raise Forbidden(f"this route needs the {role!r} role")
    return principal


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when absent or another scheme."""
    if not authorization or authorization[: len(BEARER)].lower() != BEARER:
        return None
    token = authorization[len(BEARER) :].strip()
    return token or None


def acting_user(app: APIGatewayRestResolver, requested: str | None = None) -> str:
    """The user whose data a protected route reads or writes: the caller; another user only for an admin (403
    otherwise), so no one reads or writes another user's history by naming them."""
    principal = require_user(app)
    if requested is None or requested == principal.user_id:
        return principal.user_id
    if not principal.has_role("admin"):
        raise Forbidden("only an admin may act for another user", details={"user_id": requested})
    return requested
