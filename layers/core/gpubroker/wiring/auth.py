"""Accounts and tokens: the /auth functions (the only signers), the token checks (the authorizer with the session
check, public routes without), the published keys, and the scheduled key rotation."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from gpubroker.api.deps import ApiDeps, AuditedApiDeps
from gpubroker.config import (
    AccountMailSettings,
    AuthorizerSettings,
    AuthSettings,
    EdgeSettings,
    JwksSettings,
    KeyRotationSettings,
    OperatorSettings,
    load_settings,
)
from gpubroker.wiring import edge

if TYPE_CHECKING:
    from gpubroker.ports import PublishedKeySource
    from gpubroker.services.accounts import OperatorDeps
    from gpubroker.services.auth import AccountMail, AuthDeps
    from gpubroker.services.identity import IdentityDeps
    from gpubroker.services.keys import KeyRotationDeps


@cache
def auth_service_deps() -> AuthDeps:
    """The account services' ports: DynamoDB accounts and families, the Secrets Manager key ring, argon2id, the
    shared Redis limiter for login throttling, TOTP secrets sealed with KMS."""
    return _auth_service(load_settings(AuthSettings))


@cache
def mail_service_deps() -> AuthDeps:
    """``auth_service_deps`` and the account mail: Amazon SES from ``MAIL_FROM``, links to ``APP_URL``."""
    from gpubroker.adapters.mail import SesMailer
    from gpubroker.services.auth import AccountMail

    s = load_settings(AccountMailSettings)
    return _auth_service(s, AccountMail(mailer=SesMailer(s.MAIL_FROM), app_url=s.APP_URL))


def _auth_service(s: AuthSettings, mail: AccountMail | None = None) -> AuthDeps:
    from gpubroker.adapters.auth_store import DynamoMfaStore, DynamoRefreshStore, DynamoUserStore
    from gpubroker.adapters.keyring import SecretsKeyRing
    from gpubroker.adapters.passwords import Argon2Hasher
    from gpubroker.adapters.secretbox import KmsSecretBox
    from gpubroker.domain.tokens import TokenPolicy
    from gpubroker.services.auth import AuthDeps

    return AuthDeps(
        users=DynamoUserStore(s.AUTH_TABLE),
        refresh=DynamoRefreshStore(s.AUTH_TABLE),
        mfa=DynamoMfaStore(s.AUTH_TABLE, KmsSecretBox(s.MFA_KEY_ID, purpose="gpubroker-totp")),
        hasher=Argon2Hasher(),
        throttle=edge.rate_limiter(s.REDIS_URL, prefix="throttle"),
        keys=SecretsKeyRing(s.SIGNING_KEYS_SECRET_ID, s.PUBLIC_KEYS_PARAMETER),
        policy=TokenPolicy(issuer=s.TOKEN_ISSUER, audience=s.TOKEN_AUDIENCE),
        clock=edge.system_clock(),
        mail=mail,
    )


@dataclass(frozen=True, kw_only=True)
class AuthApiDeps(AuditedApiDeps):
    """The /auth functions: the account services' ports, the front door, the audit trail."""

    auth: AuthDeps


@cache
def auth_deps() -> AuthApiDeps:
    return AuthApiDeps(auth=auth_service_deps(), front_door=edge.front_door(), audit=edge.audit_trail())


@cache
def account_mail_deps() -> AuthApiDeps:
    """The /auth functions that mail account links: ``auth_deps`` with the mailer."""
    return AuthApiDeps(auth=mail_service_deps(), front_door=edge.front_door(), audit=edge.audit_trail())


@cache
def operator_deps() -> OperatorDeps:
    """The operator commands: the accounts table and the audit log."""
    from gpubroker.adapters.auth_store import DynamoUserStore
    from gpubroker.services.accounts import OperatorDeps

    s = load_settings(OperatorSettings)
    return OperatorDeps(users=DynamoUserStore(s.AUTH_TABLE), log=edge.audit_log())


def identity_deps(settings: EdgeSettings) -> IdentityDeps:
    """What verifies an access token: the published keys and token policy of ``settings``; with an
    ``AuthorizerSettings`` (the authorizer), also the refresh families of ``AUTH_TABLE`` for the revocation check."""
    from gpubroker.adapters.keyring import ParameterPublicKeys
    from gpubroker.domain.tokens import TokenPolicy
    from gpubroker.services.identity import IdentityDeps

    sessions = None
    if isinstance(settings, AuthorizerSettings):
        from gpubroker.adapters.auth_store import DynamoRefreshStore

        sessions = DynamoRefreshStore(settings.AUTH_TABLE)
    return IdentityDeps(
        keys=ParameterPublicKeys(settings.PUBLIC_KEYS_PARAMETER),
        policy=TokenPolicy(issuer=settings.TOKEN_ISSUER, audience=settings.TOKEN_AUDIENCE),
        clock=edge.system_clock(),
        sessions=sessions,
    )


@cache
def authorizer_deps() -> IdentityDeps:
    """The Lambda authorizer: the token check with the session (revocation) check."""
    return identity_deps(load_settings(AuthorizerSettings))


@dataclass(frozen=True, kw_only=True)
class JwksDeps(ApiDeps):
    keys: PublishedKeySource


@cache
def jwks_deps() -> JwksDeps:
    from gpubroker.adapters.keyring import ParameterPublicKeys

    parameter = load_settings(JwksSettings).PUBLIC_KEYS_PARAMETER
    return JwksDeps(keys=ParameterPublicKeys(parameter), front_door=edge.front_door())


@cache
def key_rotation_deps() -> KeyRotationDeps:
    """The scheduled rotation: the signing-keys secret and its public parameter, and the audit log."""
    from gpubroker.adapters.keyring import SecretsKeyRing
    from gpubroker.services.keys import KeyRotationDeps

    s = load_settings(KeyRotationSettings)
    return KeyRotationDeps(keys=SecretsKeyRing(s.SIGNING_KEYS_SECRET_ID, s.PUBLIC_KEYS_PARAMETER), log=edge.audit_log())
