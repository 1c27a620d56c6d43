"""Bodies of the /auth routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# printable ASCII without "@" or spaces (explicit ranges: "\s" means different sets to Python and to fuzzers),
# a dot in the domain, a letters-only top-level label
EMAIL = r"^[!-?A-~]{1,64}@[!-?A-~]{1,255}\.[A-Za-z]{2,63}$"


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(pattern=EMAIL, max_length=320)
    password: str = Field(min_length=12, max_length=128, description="12 to 128 characters")


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=20, max_length=4096)


class Accepted(BaseModel):
    status: str = Field(description="always 'accepted': the answer does not say whether the email was new")


class LoggedOut(BaseModel):
    status: str = Field(description="'logged_out': the session (every refresh token of its family) is revoked")


class Tokens(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str
    refresh_expires_in: int = Field(description="seconds until the session ends (7 days after login, absolute)")


class Jwk(BaseModel):
    model_config = ConfigDict(extra="allow")

    kty: str
    kid: str
    use: str
    alg: str
    n: str
    e: str


class Jwks(BaseModel):
    keys: list[Jwk]


class MfaChallengeRef(BaseModel):
    challenge: str = Field(description="an opaque id: send it with a code to POST /auth/mfa/verify")
    expires_in: int = Field(description="seconds until the challenge expires (5 minutes, at most 5 codes)")


class MfaRequired(MfaChallengeRef):
    """Login with MFA on: the password was right, a code is needed before any token is issued."""

    mfa_required: Literal[True] = True


class MfaEnrollment(MfaChallengeRef):
    secret: str = Field(description="the TOTP secret, base32 (for manual entry)")
    otpauth_uri: str = Field(description="otpauth://totp/GPUBroker:<email>?secret=...&issuer=GPUBroker")
    qr_png: str = Field(description="the otpauth URI as a QR code: data:image/png;base64,...")


class MfaVerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge: str = Field(pattern=r"^[A-Za-z0-9_-]{20,128}$")
    code: str = Field(
        pattern=r"^(?:[0-9]{6}|[A-Za-z2-7]{4}(?:-?[A-Za-z2-7]{4}){3})$",
        description="a 6-digit TOTP code, or (to complete a login) an unused recovery code xxxx-xxxx-xxxx-xxxx",
    )


class MfaEnabled(BaseModel):
    status: Literal["mfa_enabled"] = "mfa_enabled"
    recovery_codes: list[str] = Field(description="10 one-time codes, shown only now: store them safely")


# ---- account lifecycle --------------------------------------------------------------------------------------------

LINK_TOKEN = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"  # noqa: S105 - a pattern: a compact JWS


class EmailOnly(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(pattern=EMAIL, max_length=320)


class LinkToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(pattern=LINK_TOKEN, min_length=20, max_length=4096,
                       description="the token of the mailed link (after #token=)")  # fmt: skip


class PasswordReset(LinkToken):
    password: str = Field(min_length=12, max_length=128, description="the new password: 12 to 128 characters")


class PasswordProof(BaseModel):
    """A step-up proof: the account's password (MFA enrolment takes only this one: MFA is off, there is no code)."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=128, description="the account's password")


class CodeProof(BaseModel):
    """A step-up proof: a current TOTP code (MFA on), spent as at login: a used code is refused."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[0-9]{6}$", description="a current 6-digit TOTP code")


StepUp = PasswordProof | CodeProof
"""A fresh proof of the account, in this request: its password or a current TOTP code (one of the two)."""


def proof(request: StepUp) -> tuple[str | None, str | None]:
    """(password, code) of a step-up body: one of them is None."""
    if isinstance(request, PasswordProof):
        return request.password, None
    return None, request.code


class VerificationSent(BaseModel):
    status: Literal["verification_sent"] = "verification_sent"


class EmailVerified(BaseModel):
    status: Literal["email_verified"] = "email_verified"
    note: str = "refresh the session (POST /auth/refresh) for an access token whose email_verified claim is true"


class PasswordChanged(BaseModel):
    status: Literal["password_reset"] = "password_reset"
    note: str = "every session of the account was signed out: sign in with the new password"


class MfaDisabled(BaseModel):
    status: Literal["mfa_disabled"] = "mfa_disabled"


class RecoveryCodes(BaseModel):
    status: Literal["recovery_codes_replaced"] = "recovery_codes_replaced"
    recovery_codes: list[str] = Field(description="10 new one-time codes, shown only now; the old ones no longer work")
