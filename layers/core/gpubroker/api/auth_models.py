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
