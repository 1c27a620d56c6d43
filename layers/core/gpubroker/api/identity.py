"""The caller of a protected route: the Principal the Lambda authorizer put in ``requestContext.authorizer``.

API Gateway runs the authorizer before the function on every protected route, so a function only reads its
result. A protected route reached without one (a template that forgot the ``Auth`` block) answers 401, never runs
as nobody.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from gpubroker.domain.accounts import Principal
from gpubroker.domain.errors import EmailNotVerified, Forbidden, Unauthorized

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


def require_verified_email(app: APIGatewayRestResolver) -> Principal:
    """The caller, who must have a verified email address: the guard of every route that costs money (bookings,
    plan changes, checkout). 401 without a user, 403 ``email_not_verified`` with an unverified address. It reads
    the access token's ``email_verified`` claim (through the authorizer): a user who has just verified refreshes
    the session to get a token that says so."""
    principal = require_user(app)
    if not principal.email_verified:
        raise EmailNotVerified(
            "verify your email address first (POST /auth/verify-email/send mails a link), then refresh the session"
        )
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
