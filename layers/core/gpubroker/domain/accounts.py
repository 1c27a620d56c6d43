"""An account, as the identity services see it."""

from __future__ import annotations

from dataclasses import dataclass

PLANS = ("free", "pro", "enterprise")


@dataclass(frozen=True)
class User:
    user_id: str
    email: str
    password_hash: str
    plan: str = "free"
    roles: tuple[str, ...] = ("user",)
    mfa_enabled: bool = False  # the TOTP secret itself is read only by the MFA store (sealed, see auth_store)
    email_verified: bool = False  # the owner followed a verification (or password reset) link mailed to ``email``


@dataclass(frozen=True)
class Principal:
    """A signed-in caller, as the Lambda authorizer hands it to a function (``requestContext.authorizer``)."""

    user_id: str
    plan: str = "free"
    roles: frozenset[str] = frozenset({"user"})
    family: str = ""  # the refresh-token family (session) the access token belongs to
    email_verified: bool = False  # the access token's ``email_verified`` claim (as of its issue: refresh for news)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def to_context(self) -> dict[str, str]:
        """The authorizer's context: API Gateway passes only flat string/number/boolean values."""
        return {"user_id": self.user_id, "plan": self.plan, "roles": " ".join(sorted(self.roles)), "fam": self.family,
                "email_verified": "true" if self.email_verified else "false"}  # fmt: skip

    @classmethod
    def from_context(cls, ctx: dict[str, object] | None) -> Principal | None:
        """Read back :meth:`to_context`; None when there is no user (a public route, or no authorizer)."""
        user_id = str((ctx or {}).get("user_id") or "")
        if not user_id:
            return None
        assert ctx is not None
        plan = str(ctx.get("plan") or "free")
        roles = frozenset(str(ctx.get("roles") or "").split()) or frozenset({"user"})
        verified = ctx.get("email_verified")
        return cls(
            user_id=user_id, plan=plan if plan in PLANS else "free", roles=roles, family=str(ctx.get("fam") or ""),
            email_verified=verified is True or str(verified).lower() == "true",
        )  # fmt: skip
