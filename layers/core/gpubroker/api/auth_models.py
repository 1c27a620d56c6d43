"""Bodies of the /auth routes."""

from __future__ import annotations

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
