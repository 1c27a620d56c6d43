"""The token-binding fingerprint cookie: ``__Host-`` prefixed, HttpOnly, Secure, SameSite=Strict, path /."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

from aws_lambda_powertools.shared.cookies import Cookie, SameSite

FINGERPRINT_COOKIE = "__Host-gpb_fgp"


def fingerprint_cookie(value: str, max_age_s: int) -> Cookie:
    return Cookie(name=FINGERPRINT_COOKIE, value=value, path="/", secure=True, http_only=True,
                  same_site=SameSite.STRICT_MODE, max_age=max_age_s)  # fmt: skip


def cleared_cookie() -> Cookie:
    return fingerprint_cookie("", 0)


def fingerprint_from(headers: dict[str, str] | None) -> str | None:
    """The fingerprint the client's cookie carries, or None (missing or malformed Cookie header)."""
    raw = next((v for k, v in (headers or {}).items() if k.lower() == "cookie"), None)
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(FINGERPRINT_COOKIE)
    return morsel.value if morsel is not None and morsel.value else None
