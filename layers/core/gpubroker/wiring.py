"""Default wiring of the math functions' ports, built on first use (never at import) and cached per container.

Handlers take these as their ``default_deps``; tests pass ``MathDeps`` built from in-memory fakes instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from gpubroker.config import ConnectionSettings, ModelSettings, PersonalSettings, SnapshotSettings, load_settings
from gpubroker.ports import AuditLog, AuditSpool, CheckpointSigner, Clock, InteractionRepository, OfferSource

if TYPE_CHECKING:
    from gpubroker.services.collab import CfModel, CfModelCache
    from gpubroker.services.offer_math import OfferMathCache
    from gpubroker.services.prices import ConnectionRepository


def _system_clock() -> Clock:
    from gpubroker.adapters.clock import SystemClock

    return SystemClock()


@dataclass(frozen=True)
class MathDeps:
    offers: OfferMathCache
    models: CfModelCache | None = None
    interactions: InteractionRepository | None = None

    def personal(self, user_id: str | None) -> tuple[CfModel | None, Mapping[str, Mapping[str, int]] | None]:
        """The trained CF model, and ``user_id``'s interaction history (None: anonymous, or no interactions port)."""
        model = self.models.get() if self.models else None
        history = self.interactions.history(user_id) if self.interactions and user_id else None
        return model, history


def _offer_math(bucket: str, ttl: float) -> OfferMathCache:
    from gpubroker.adapters.s3_snapshots import S3SnapshotStore
    from gpubroker.services.offer_math import OfferMathCache
    from gpubroker.services.search import SnapshotCache

    return OfferMathCache(SnapshotCache(S3SnapshotStore(bucket), ttl_s=ttl).current)


@cache
def math_deps() -> MathDeps:
    s = load_settings(SnapshotSettings)
    return MathDeps(offers=_offer_math(s.SNAPSHOT_BUCKET, s.SNAPSHOT_TTL_SECONDS))


@cache
def model_deps() -> MathDeps:
    """The public presets: the snapshot and the CF model, no user's interactions."""
    from gpubroker.adapters.s3_models import S3ModelStore
    from gpubroker.services.collab import CfModelCache

    s = load_settings(ModelSettings)
    return MathDeps(offers=_offer_math(s.SNAPSHOT_BUCKET, s.SNAPSHOT_TTL_SECONDS),
                    models=CfModelCache(S3ModelStore(s.MODEL_BUCKET)))  # fmt: skip


@cache
def personal_deps() -> MathDeps:
    from gpubroker.adapters.interactions import DynamoInteractionRepository
    from gpubroker.adapters.s3_models import S3ModelStore
    from gpubroker.services.collab import CfModelCache

    s = load_settings(PersonalSettings)
    return MathDeps(
        offers=_offer_math(s.SNAPSHOT_BUCKET, s.SNAPSHOT_TTL_SECONDS),
        models=CfModelCache(S3ModelStore(s.MODEL_BUCKET)),
        interactions=DynamoInteractionRepository(s.INTERACTIONS_TABLE),
    )


# ---- ingestion sources ---------------------------------------------------------------------------------------


@cache
def breaker_for(provider: str, redis_url: str) -> Any:
    """One breaker per provider per container: shared through Redis when ``redis_url`` is set (short timeouts,
    no client retries: an unreachable Redis falls back to the in-process breaker at once), else in-process."""
    from gpubroker.adapters.breaker import MemoryCircuitBreaker, RedisCircuitBreaker

    if not redis_url:
        return MemoryCircuitBreaker(provider)
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5, retry_on_timeout=False)
    return RedisCircuitBreaker(client, provider)


def offer_source(
    provider: str, *, catalog: str | None, base_url: str | None, credentials: Any, redis_url: str
) -> OfferSource:
    """The source an ingestion event names (a SkyPilot catalog, or the provider's live API), behind its breaker."""
    from gpubroker.adapters.breaker import guarded

    if catalog:
        from gpubroker.adapters.skypilot_catalog import SkyPilotCatalogSource

        source: OfferSource = SkyPilotCatalogSource(provider, catalog)
    else:
        from gpubroker.adapters.providers import build_source
        from gpubroker.adapters.secrets import ProviderCredentials

        scoped = ProviderCredentials(credentials, provider) if credentials is not None else None
        source = build_source(provider, credentials=scoped, base_url=base_url)
    return guarded(source, breaker_for(provider, redis_url))


# ---- WebSocket routes ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionDeps:
    """The ports of the WebSocket route functions: the connections table and a clock."""

    connections: ConnectionRepository
    clock: Clock = field(default_factory=_system_clock)


@cache
def connection_deps() -> ConnectionDeps:
    from gpubroker.adapters.connections import DynamoConnectionRepository

    return ConnectionDeps(connections=DynamoConnectionRepository(load_settings(ConnectionSettings).CONNECTIONS_TABLE))


@cache
def auth_deps() -> Any:
    """The /auth functions' ports: DynamoDB accounts and families, the Secrets Manager key ring, argon2id, the
    shared Redis limiter for login throttling."""
    from gpubroker.adapters.auth_store import DynamoMfaStore, DynamoRefreshStore, DynamoUserStore
    from gpubroker.adapters.keyring import SecretsKeyRing
    from gpubroker.adapters.passwords import Argon2Hasher
    from gpubroker.adapters.ratelimit import MemoryRateLimiter, rate_limiter
    from gpubroker.adapters.secretbox import KmsSecretBox
    from gpubroker.config import AuthSettings
    from gpubroker.domain.tokens import TokenPolicy
    from gpubroker.services.auth import AuthDeps

    s = load_settings(AuthSettings)
    return AuthDeps(
        users=DynamoUserStore(s.AUTH_TABLE),
        refresh=DynamoRefreshStore(s.AUTH_TABLE),
        mfa=DynamoMfaStore(s.AUTH_TABLE, KmsSecretBox(s.MFA_KEY_ID, purpose="gpubroker-totp")),
        hasher=Argon2Hasher(),
        throttle=rate_limiter(s.REDIS_URL, prefix="throttle") if s.REDIS_URL else MemoryRateLimiter(),
        keys=SecretsKeyRing(s.SIGNING_KEYS_SECRET_ID, s.PUBLIC_KEYS_PARAMETER),
        policy=TokenPolicy(issuer=s.TOKEN_ISSUER, audience=s.TOKEN_AUDIENCE),
        clock=_system_clock(),
    )


@cache
def key_rotation_deps() -> Any:
    """The scheduled rotation: the signing-keys secret and its public parameter, and the audit log."""
    from gpubroker.adapters.keyring import SecretsKeyRing
    from gpubroker.config import KeyRotationSettings
    from gpubroker.services.keys import KeyRotationDeps

    s = load_settings(KeyRotationSettings)
    return KeyRotationDeps(keys=SecretsKeyRing(s.SIGNING_KEYS_SECRET_ID, s.PUBLIC_KEYS_PARAMETER), log=audit_log())


# ---- the front door: who is calling, and at what rate ---------------------------------------------------------


@cache
def identity_deps(*, sessions: bool = False) -> Any:
    """What verifies an access token: the published keys and token policy (``EdgeSettings``, from Globals) and,
    for the authorizer (``sessions=True``), the refresh families of ``AUTH_TABLE`` for the revocation check."""
    from gpubroker.adapters.keyring import ParameterPublicKeys
    from gpubroker.config import AuthorizerSettings, EdgeSettings
    from gpubroker.domain.tokens import TokenPolicy
    from gpubroker.services.identity import IdentityDeps

    s = load_settings(AuthorizerSettings if sessions else EdgeSettings)
    store = None
    if isinstance(s, AuthorizerSettings):
        from gpubroker.adapters.auth_store import DynamoRefreshStore

        store = DynamoRefreshStore(s.AUTH_TABLE)
    return IdentityDeps(
        keys=ParameterPublicKeys(s.PUBLIC_KEYS_PARAMETER),
        policy=TokenPolicy(issuer=s.TOKEN_ISSUER, audience=s.TOKEN_AUDIENCE),
        clock=_system_clock(),
        sessions=store,
    )


@dataclass(frozen=True)
class Edge:
    """The rate-limit middleware's ports: the limiter, and what builds the token check that names a public route's
    caller (None when no signing keys are configured: every caller without an authorizer context is anonymous)."""

    limiter: Any
    identity: Callable[[], Any] | None = None  # builds the token check on first use (identity_deps)
    window_s: float = 1.0  # gpubroker.domain.plans.WINDOW_S


@cache
def edge() -> Edge:
    from gpubroker.adapters.ratelimit import MemoryRateLimiter, rate_limiter
    from gpubroker.config import EdgeSettings

    s = load_settings(EdgeSettings)
    limiter = rate_limiter(s.REDIS_URL) if s.REDIS_URL else MemoryRateLimiter()
    usable = s.PUBLIC_KEYS_PARAMETER and s.TOKEN_ISSUER and s.TOKEN_AUDIENCE
    return Edge(limiter=limiter, identity=identity_deps if usable else None)


# ---- the audit log ---------------------------------------------------------------------------------------------

AUDIT_SHARDS = 8
"""Shards of the audit log: every writer, the checkpoint signer and the verifier must agree. Only ever grow it
(a shard that is no longer counted is no longer verified)."""


@cache
def audit_log() -> AuditLog:
    """The audit log every mutating function appends to and the admin functions read (``AUDIT_TABLE``)."""
    from gpubroker.adapters.audit import DynamoAuditLog
    from gpubroker.config import AuditSettings

    return DynamoAuditLog(load_settings(AuditSettings).AUDIT_TABLE, shards=AUDIT_SHARDS)


@cache
def audit_signer() -> CheckpointSigner:
    """The KMS asymmetric key that signs (checkpoint function) and verifies (``GET /audit/verify``) checkpoints."""
    from gpubroker.adapters.audit import KmsCheckpointSigner
    from gpubroker.config import AuditSigningSettings

    return KmsCheckpointSigner(load_settings(AuditSigningSettings).AUDIT_SIGNING_KEY_ID)


@cache
def audit_spool() -> AuditSpool:
    """Where the audit middleware puts an entry whose append failed (``AUDIT_SPOOL_QUEUE_URL``)."""
    from gpubroker.adapters.audit_spool import SqsAuditSpool
    from gpubroker.config import AuditSpoolSettings

    return SqsAuditSpool(load_settings(AuditSpoolSettings).AUDIT_SPOOL_QUEUE_URL)


@dataclass(frozen=True)
class AuditDeps:
    """The ports of the checkpoint function and ``GET /audit/verify``: the log, the KMS signer, a clock, and (the
    checkpoint function) the spool of entries to re-append."""

    log: AuditLog
    signer: CheckpointSigner
    clock: Clock = field(default_factory=_system_clock)
    spool: AuditSpool | None = None


@cache
def audit_deps() -> AuditDeps:
    return AuditDeps(log=audit_log(), signer=audit_signer())


@cache
def checkpoint_deps() -> AuditDeps:
    return AuditDeps(log=audit_log(), signer=audit_signer(), spool=audit_spool())
