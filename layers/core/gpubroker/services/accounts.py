"""Account lifecycle: email verification, password reset by email, and the operator's role grant.

**Email verification.** Registering mails a link (``<APP_URL>/verify-email#token=...``: the token sits in the URL
fragment, which browsers never send to a server, so no access log or Referer holds it) carrying a 24-hour
``verify_email`` token (gpubroker.domain.links). ``POST /auth/verify-email`` with the token marks the address
verified (a conditional write on the account id: a link of a removed account that was registered again is
refused); ``POST /auth/verify-email/send`` mails a new link to a signed-in user (throttled). Sessions carry the
fact as the access token's ``email_verified`` claim, read at login and at every refresh; routes that cost money
check it (``gpubroker.api.identity.require_verified_email``).

**Password reset.** ``POST /auth/password/forgot`` answers 202 whatever the email: for an account it records a new
reset link's ``jti`` on the profile (superseding any older link) and mails the 1-hour link; for an unknown email
the same conditional write is attempted (and refused: nothing is written) and no mail goes out. The difference in
work (one SES call) is hidden by answering no sooner than ``FORGOT_FLOOR_S`` after the request arrived, whatever
happened (tests/bench/bench_forgot_timing.py measures it). ``POST /auth/password/reset`` with the token and a new
password sets the hash in one conditional write on that ``jti`` (single use, also under concurrency: exactly one
of N wins), marks the email verified (the link proved the mailbox), and revokes every session family of the user.

**Operators.** ``grant_role`` gives an account a role (the first admin): an invoke-only function, audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gpubroker.domain.accounts import User
from gpubroker.domain.errors import (
    AccountNotFound,
    EmailAlreadyVerified,
    InvalidLink,
    MailUnavailable,
    TooManyRequests,
    Unauthorized,
)
from gpubroker.domain.links import TTL_S, Purpose, issue_link, verify_link
from gpubroker.observability import logger
from gpubroker.ports import AuditLog, RateLimiter, UserStore
from gpubroker.services.auth import AccountMail, AuthDeps, normalise_email

FORGOT_FLOOR_S = 1.0  # no forgot answer goes out sooner (an SES call takes ~0.05-0.3 s)
FORGOT_PER_EMAIL = (5, 3600.0)  # reset mails per address per hour (whether or not it has an account)
FORGOT_PER_IP = (10, 60.0)
VERIFY_SEND_PER_USER = (5, 3600.0)  # verification mails a signed-in user may ask for per hour
ROLES = frozenset({"admin", "user"})


__all__ = [
    "AccountMail",
    "after_register",
    "forgot_password",
    "grant_role",
    "reset_password",
    "send_verification",
    "verify_email",
]


def _mail(deps: AuthDeps) -> AccountMail:
    if deps.mail is None:  # a wiring error, not a request's: the function's Settings lack MAIL_FROM / APP_URL
        raise RuntimeError("this function is not wired to send mail")
    return deps.mail


def _link(purpose: Purpose, user: User, *, deps: AuthDeps) -> tuple[str, dict[str, Any]]:
    token, claims = issue_link(purpose, ring=deps.keys.ring(), policy=deps.policy, now=deps.clock.now(),
                               user_id=user.user_id, email=user.email)  # fmt: skip
    path = "verify-email" if purpose == "verify_email" else "reset-password"
    return f"{_mail(deps).app_url.rstrip('/')}/{path}#token={token}", claims


def mail_verification(user: User, *, deps: AuthDeps) -> None:
    """Mail ``user`` a fresh verification link (raises MailUnavailable)."""
    url, _ = _link("verify_email", user, deps=deps)
    hours = TTL_S["verify_email"] // 3600
    text = (f"Welcome to GPUBroker.\n\nConfirm that this address is yours (the link works for {hours} hours):\n\n"
            f"{url}\n\nIf you did not create an account, ignore this message.\n")  # fmt: skip
    _mail(deps).mailer.send(user.email, "Verify your GPUBroker email address", text)


def mail_already_registered(email: str, *, deps: AuthDeps) -> None:
    """Someone registered with an address that has an account: tell its owner (raises MailUnavailable). The
    registration answer is the same as for a new address, and so is its work (one mail)."""
    base = _mail(deps).app_url.rstrip("/")
    _mail(deps).mailer.send(email, "You already have a GPUBroker account",
                            "Someone (you?) tried to create a GPUBroker account with this address, which already "
                            f"has one. Sign in at {base}/account, or reset the password at {base}/forgot-password.\n"
                            "If it was not you, nothing has changed.\n")  # fmt: skip


def after_register(email: str, created: User | None, *, deps: AuthDeps) -> None:
    """The registration mail (a verification link, or the already-registered notice). A mail that cannot be sent
    does not fail the registration: the account exists, and POST /auth/verify-email/send sends another link."""
    if deps.mail is None:
        return
    try:
        if created is not None:
            mail_verification(created, deps=deps)
        else:
            mail_already_registered(email, deps=deps)
    except MailUnavailable as exc:
        logger.warning("registration mail not sent", extra={"reason": (exc.details or {}).get("reason")})


def send_verification(user_id: str, *, deps: AuthDeps) -> None:
    """A new verification link for the signed-in user; 409 when the address is verified already."""
    user = deps.users.by_id(user_id)
    if user is None:
        raise Unauthorized("sign in first: this route needs an access token")
    if user.email_verified:
        raise EmailAlreadyVerified("this email address is verified already")
    limit, window = VERIFY_SEND_PER_USER
    decision = deps.throttle.check(f"verify-send:{user_id}", limit, window)
    if not decision.allowed:
        raise TooManyRequests("too many verification mails", retry_after=decision.retry_after_s)
    mail_verification(user, deps=deps)


def verify_email(token: str, *, deps: AuthDeps) -> str:
    """Mark the address of a valid ``verify_email`` token verified (idempotent); returns the user id."""
    claims = verify_link(token, "verify_email", ring=deps.keys.ring(), policy=deps.policy, now=deps.clock.now())
    if not deps.users.mark_email_verified(str(claims["email"]), str(claims["sub"])):
        raise InvalidLink("no_account")
    return str(claims["sub"])


def forgot_password(email: str, *, ip: str, deps: AuthDeps) -> None:
    """Mail a reset link if ``email`` has an account; the same answer, the same throttles and no sooner than
    ``FORGOT_FLOOR_S`` either way. The throttles come first and answer at once: they read nothing of the account,
    so a 429 takes as long for any address (and a flood of them costs no Lambda time)."""
    mail = _mail(deps)
    started = mail.monotonic()
    email = normalise_email(email)
    for key, (limit, window) in ((f"forgot:email:{email}", FORGOT_PER_EMAIL), (f"forgot:ip:{ip}", FORGOT_PER_IP)):
        decision = deps.throttle.check(key, limit, window)
        if not decision.allowed:
            raise TooManyRequests("too many password reset requests", retry_after=decision.retry_after_s)
    try:
        _forgot(email, deps=deps)
    finally:
        mail.sleep(max(0.0, FORGOT_FLOOR_S - (mail.monotonic() - started)))


def _forgot(email: str, *, deps: AuthDeps) -> None:
    user = deps.users.by_email(email)
    # the same signing and the same conditional write either way; for an unknown email the write is refused
    target = user or User(user_id="u_none", email=email, password_hash="")
    url, claims = _link("password_reset", target, deps=deps)
    if not deps.users.set_reset_link(email, str(claims["jti"]), int(claims["exp"])) or user is None:
        return
    try:
        _mail(deps).mailer.send(email, "Reset your GPUBroker password",
                                f"Someone (you?) asked to reset the password of this GPUBroker account. Choose a "
                                f"new one here (the link works once, for 1 hour):\n\n{url}\n\nIf it was not you, "
                                "ignore this message: the password has not changed.\n")  # fmt: skip
    except MailUnavailable as exc:  # same answer: telling the caller would tell them the address has an account
        logger.warning("reset mail not sent", extra={"reason": (exc.details or {}).get("reason")})


def reset_password(token: str, new_password: str, *, deps: AuthDeps) -> str:
    """Set a new password with a valid, live ``password_reset`` token; every session of the account is revoked.
    Returns the user id."""
    claims = verify_link(token, "password_reset", ring=deps.keys.ring(), policy=deps.policy, now=deps.clock.now())
    user_id, email = str(claims["sub"]), str(claims["email"])
    password_hash = deps.hasher.hash(new_password)
    if not deps.users.reset_password(email, user_id, str(claims["jti"]), password_hash):
        raise InvalidLink("used")  # used, superseded by a newer link, or the account is not this one
    for family in deps.refresh.families_of(user_id):
        deps.refresh.revoke_family(family)
    return user_id


@dataclass(frozen=True)
class OperatorDeps:
    """The operator commands' ports: the accounts and the audit log they record every command in."""

    users: UserStore
    log: AuditLog
    throttle: RateLimiter | None = None


def grant_role(email: str, role: str, *, operator: str, request_id: str, deps: OperatorDeps) -> User:
    """Give the account ``email`` the ``role`` (``admin`` makes the first admin); audited as ``account.grant_role``
    by ``operator:<operator>``, refused or not. Takes effect at the account's next login or refresh."""
    email = normalise_email(email)
    user = deps.users.by_email(email)
    resource = f"user/{user.user_id}" if user else "user/unknown"
    ok = role in ROLES and user is not None and deps.users.grant_role(email, role)
    outcome = "ok" if ok else ("refused:422:role" if role not in ROLES else "refused:404")
    deps.log.append(actor=f"operator:{operator}", action="account.grant_role", resource=resource,
                    request_id=request_id, outcome=outcome)  # fmt: skip
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: one of {sorted(ROLES)}")
    if not ok:
        raise AccountNotFound(f"no account has the email {email!r}")
    updated = deps.users.by_email(email)
    assert updated is not None
    return updated
