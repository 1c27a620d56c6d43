"""One settings model per function family, read from the environment once per cold start.

A contract test checks that each function's ``Environment.Variables`` in template.yaml equal the fields of the
settings model its handler declares (``Settings`` in the handler module).
"""

from __future__ import annotations

import os
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class NoSettings(_Settings):
    """For functions that need nothing beyond the Powertools globals."""


class SnapshotSettings(_Settings):
    SNAPSHOT_BUCKET: str = Field(min_length=3)
    SNAPSHOT_TTL_SECONDS: float = Field(default=2.0, ge=0, le=300)


class OfferReadSettings(_Settings):
    OFFERS_TABLE: str = Field(min_length=3)
    SNAPSHOT_BUCKET: str = Field(min_length=3)


class CatalogSettings(_Settings):
    GPU_CATALOG_TABLE: str = Field(min_length=3)


class IngestSettings(_Settings):
    OFFERS_TABLE: str = Field(min_length=3)
    PRICE_HISTORY_TABLE: str = Field(min_length=3)
    GPU_CATALOG_TABLE: str = Field(min_length=3)
    SNAPSHOT_BUCKET: str = Field(min_length=3)
    PROVIDER_SECRETS_ID: str = Field(default="", description="Secrets Manager id of the providers' API keys")
    REDIS_URL: str = Field(default="", description="shared breaker state; empty: a breaker per container (Globals)")
    BREAKER_FAILURES: int = Field(default=5, ge=1, description="failing attempts (HTTP calls) that open a breaker")
    BREAKER_WINDOW_SECONDS: float = Field(default=120.0, gt=0, description="... within this long (a run's span)")
    BREAKER_OPEN_SECONDS: float = Field(
        default=3900.0, gt=0, description="how long it stays open: longer than the schedule, so the next run skips"
    )
    PROVIDER_SECRETS_MAX_AGE_SECONDS: float = Field(
        default=300.0, ge=0, description="how long a fetched provider secret is used before it is read again"
    )


class _BookingStep(_Settings):
    """A booking saga step (``functions/booking_*``): the bookings table, and what its one job touches."""

    BOOKINGS_TABLE: str = Field(min_length=3)


class _Capacity(_Settings):
    PROVIDER_SECRETS_ID: str = Field(default="", description="Secrets Manager id of the providers' API keys")
    GPUBROKER_CAPACITY_PROVIDER: str = Field(
        default="", description="when set (the local stack: sandbox), every booking reserves through this provider"
    )


class StripeSettings(_Settings):
    """The Stripe client (``gpubroker.wiring.billing.payments``): the secret (JSON ``{"api_key": "sk_..."}``), the
    API's base address (empty: the real Stripe API; the local stack sets its Stripe-compatible server), the auth
    table (the user -> customer links) and where Checkout sends the payer back: the web app's pages
    ``<APP_URL>/billing/done`` and ``<APP_URL>/billing/cancelled`` (``APP_URL`` = the ``WebAppUrl`` output, .../app)."""

    STRIPE_SECRET_ID: str = Field(min_length=3, description="Secrets Manager id of the Stripe keys")
    STRIPE_API_BASE: str = Field(default="", description="empty: https://api.stripe.com; locally the local server")
    AUTH_TABLE: str = Field(min_length=3)
    APP_URL: str = Field(default="https://gpubroker.invalid", min_length=1, description="the web app: Checkout returns")


class _StepAudit(_Settings):
    AUDIT_TABLE: str = Field(min_length=3)
    AUDIT_SPOOL_QUEUE_URL: str = Field(min_length=3)


class BookingValidateSettings(_BookingStep):
    OFFERS_TABLE: str = Field(min_length=3)


class BookingReserveSettings(BookingValidateSettings, _Capacity):
    pass


class BookingChargeSettings(_BookingStep, StripeSettings):
    pass


class BookingConfirmSettings(BookingChargeSettings, _Capacity, _StepAudit):
    BOOKING_KEY_ID: str = Field(min_length=1, description="KMS symmetric key sealing the connection details")


class BookingNotifySettings(_BookingStep):
    CONNECTIONS_TABLE: str = Field(min_length=3)
    WEBSOCKET_ENDPOINT: str = Field(pattern=r"^https?://")


class BookingStreamSettings(_Settings):
    """``stream_push_bookings``: the bookings come in the stream's images (no table, no key), so only the
    connections (the owner's, by_user) and the management endpoint."""

    CONNECTIONS_TABLE: str = Field(min_length=3)
    WEBSOCKET_ENDPOINT: str = Field(pattern=r"^https?://")


class BookingRefundSettings(_BookingStep, StripeSettings, _StepAudit):
    pass


class BookingReleaseSettings(_BookingStep, _Capacity):
    pass


class BookingFailSettings(_BookingStep, _StepAudit):
    pass


class BookingAttentionSettings(_BookingStep, _StepAudit):
    BOOKING_DLQ_URL: str = Field(min_length=3, description="the booking dead-letter queue (an alarm watches it)")


S = TypeVar("S", bound=_Settings)


def load_settings(model: type[S]) -> S:
    """Validate the model's fields from ``os.environ``; a missing variable fails the cold start loudly."""
    return model.model_validate({k: v for k, v in os.environ.items() if k in model.model_fields})


class ModelSettings(SnapshotSettings):
    """The public presets: the snapshot and the trained CF model (its popularity: the anonymous for-you)."""

    MODEL_BUCKET: str = Field(min_length=3)


class PersonalSettings(ModelSettings):
    """Math functions that personalise for the signed-in caller: also the user's interactions."""

    INTERACTIONS_TABLE: str = Field(min_length=3)


class InteractionSettings(_Settings):
    """POST /interactions: the offers (an unknown offer is a 404), the interactions, and the audit log."""

    OFFERS_TABLE: str = Field(min_length=3)
    INTERACTIONS_TABLE: str = Field(min_length=3)
    AUDIT_TABLE: str = Field(min_length=3)
    AUDIT_SPOOL_QUEUE_URL: str = Field(min_length=3)


class ProviderAdminSettings(_Settings):
    """DELETE /providers/{name}: the ingestion function (the snapshot's one writer) it asks, and the audit log."""

    INGEST_FUNCTION: str = Field(min_length=1, description="name or ARN of the ingestion function")
    AUDIT_TABLE: str = Field(min_length=3)
    AUDIT_SPOOL_QUEUE_URL: str = Field(min_length=3)


class TrainSettings(_Settings):
    INTERACTIONS_TABLE: str = Field(min_length=3)
    MODEL_BUCKET: str = Field(min_length=3)


class ConnectionSettings(_Settings):
    """WebSocket route functions: the connections table."""

    CONNECTIONS_TABLE: str = Field(min_length=3)


class PosterSettings(_Settings):
    """Whatever posts to WebSocket connections: the connections table (gone ones are deleted), the stage's
    management endpoint, and how many connections one invocation posts to at once."""

    CONNECTIONS_TABLE: str = Field(min_length=3)
    WEBSOCKET_ENDPOINT: str = Field(pattern=r"^https?://")
    BROADCAST_CONCURRENCY: int = Field(default=16, ge=1, le=128)


class BroadcastSettings(PosterSettings):
    """The price broadcaster: also the price feed it numbers changes in, and the fan-out queue it hands chunks of
    more than ``FANOUT_DIRECT_LIMIT`` connections to (``FANOUT_CHUNK_SIZE`` connections per message)."""

    PRICE_FEED_TABLE: str = Field(min_length=3)
    FANOUT_QUEUE_URL: str = Field(min_length=3)
    FANOUT_DIRECT_LIMIT: int = Field(default=200, ge=0)
    FANOUT_CHUNK_SIZE: int = Field(default=200, ge=1, le=5000)


class SubscribeSettings(PosterSettings):
    """``subscribe``: the feed it replays and the offer snapshot it pages (besides posting to its connection)."""

    PRICE_FEED_TABLE: str = Field(min_length=3)
    SNAPSHOT_BUCKET: str = Field(min_length=3)
    SNAPSHOT_TTL_SECONDS: float = Field(default=2.0, ge=0, le=300)


class HistorySettings(_Settings):
    OFFERS_TABLE: str = Field(min_length=3)
    PRICE_HISTORY_TABLE: str = Field(min_length=3)


class MarketSettings(SnapshotSettings):
    PRICE_HISTORY_TABLE: str = Field(min_length=3)


class SeedSettings(_Settings):
    PRICE_HISTORY_TABLE: str = Field(min_length=3)


class EdgeSettings(_Settings):
    """What every API function's front door needs (template.yaml ``Globals``): the Redis of the plan rate limits
    and of login throttling, and what verifies an access token (a public route's caller gets its plan's rate)."""

    REDIS_URL: str = Field(default="", description="rate limits and breakers; empty: per-container fallbacks")
    PUBLIC_KEYS_PARAMETER: str = Field(default="", description="the JWKS (SSM); empty: every caller is anonymous")
    TOKEN_ISSUER: str = Field(default="")
    TOKEN_AUDIENCE: str = Field(default="")
    EDGE_ORIGIN_SECRET: str = Field(
        default="", repr=False, description="what CloudFront adds as X-GPUBroker-Origin-Verify (api.client_ip)"
    )


class AuthorizerSettings(EdgeSettings):
    """The Lambda authorizer: the published token keys (required here) and the refresh families (revocation)."""

    AUTH_TABLE: str = Field(min_length=3)
    PUBLIC_KEYS_PARAMETER: str = Field(min_length=1)
    TOKEN_ISSUER: str = Field(min_length=3)
    TOKEN_AUDIENCE: str = Field(min_length=3)


class ConnectSettings(AuthorizerSettings):
    """WebSocket ``$connect``: the connections table, and what the REST authorizer needs to verify a token."""

    CONNECTIONS_TABLE: str = Field(min_length=3)


class SweepSettings(PosterSettings):
    """The sweeper of silent WebSocket connections: the table it scans (``SWEEP_SEGMENTS`` parallel Scan
    segments) and the management endpoint that closes a socket (``BROADCAST_CONCURRENCY`` at once)."""

    SWEEP_SEGMENTS: int = Field(default=4, ge=1, le=64)


class AuthSettings(AuthorizerSettings):
    """The auth functions: accounts and refresh families, the signing keys, token claims, login throttling, and
    the audit log every auth event is appended to."""

    AUDIT_TABLE: str = Field(min_length=3)
    SIGNING_KEYS_SECRET_ID: str = Field(min_length=3, description="the private signing keys (signers only)")
    AUDIT_SPOOL_QUEUE_URL: str = Field(min_length=3, description="where an audit entry waits if its append fails")
    MFA_KEY_ID: str = Field(min_length=1, description="KMS symmetric key sealing the TOTP secrets")


class AccountMailSettings(AuthSettings):
    """The auth functions that mail the account links (register, verify-email/send, password/forgot): also the SES
    sender (a verified identity: template.yaml ``MailSenderIdentity``) and the web app's URL the links point to."""

    MAIL_FROM: str = Field(min_length=3, description="the SES sender address (the template's MailFrom)")
    APP_URL: str = Field(min_length=1, description="the web app (.../app): <APP_URL>/verify-email#token=")


class OperatorSettings(_Settings):
    """The operator commands (invoke-only functions, e.g. the first admin): the accounts and the audit log."""

    AUTH_TABLE: str = Field(min_length=3)
    AUDIT_TABLE: str = Field(min_length=3)


class KeyRotationSettings(_Settings):
    """The scheduled signing-key rotation: the private keys' secret, the public parameter it publishes to, and the
    audit log it records the rotation in."""

    SIGNING_KEYS_SECRET_ID: str = Field(min_length=3)
    PUBLIC_KEYS_PARAMETER: str = Field(min_length=1)
    AUDIT_TABLE: str = Field(min_length=3)


class AuditSettings(_Settings):
    """Reading the audit log (``GET /audit``); every function that appends to it has ``AUDIT_TABLE`` too."""

    AUDIT_TABLE: str = Field(min_length=3)


class AuditSigningSettings(AuditSettings):
    """Checkpoint signing and verification: the audit table, the KMS asymmetric key (ECC_NIST_P256) and the
    checkpoint archive (S3 Object Lock)."""

    AUDIT_SIGNING_KEY_ID: str = Field(min_length=1, description="KMS key id or ARN of the checkpoint signing key")
    AUDIT_CHECKPOINT_BUCKET: str = Field(
        min_length=3, description="S3 bucket with Object Lock where every checkpoint is published too"
    )


class AuditSpoolSettings(_Settings):
    """The audit spool (SQS): every function with the audit middleware writes to it, the checkpoint drains it."""

    AUDIT_SPOOL_QUEUE_URL: str = Field(min_length=3)


class AuditCheckpointSettings(AuditSigningSettings, AuditSpoolSettings):
    """The checkpoint function: re-appends the spooled entries, then signs the checkpoints."""


class JwksSettings(EdgeSettings):
    PUBLIC_KEYS_PARAMETER: str = Field(min_length=1)


class OpenApiSettings(_Settings):
    """GET /openapi.json: the generated document (``make openapi``), a path relative to the function's folder
    (``openapi.json``, shipped beside the handler) or absolute (the local stack's freshly generated one)."""

    OPENAPI_DOCUMENT: str = Field(default="openapi.json", min_length=1)


class BillingCheckoutSettings(EdgeSettings, StripeSettings):
    """``POST /billing/checkout``: the Stripe client, the users (their email for the customer) and the audit log."""

    AUDIT_TABLE: str = Field(min_length=3)
    AUDIT_SPOOL_QUEUE_URL: str = Field(min_length=3)


class BillingWebhookSettings(EdgeSettings):
    """``POST /billing/webhook``: the auth table (the users' plans, the Stripe events seen, the customer links), the
    Stripe secret (JSON ``{"webhook_secret": "whsec_..."}``) and the audit log."""

    AUTH_TABLE: str = Field(min_length=3)
    STRIPE_SECRET_ID: str = Field(min_length=3, description="Secrets Manager id of the Stripe keys")
    AUDIT_TABLE: str = Field(min_length=3)
    AUDIT_SPOOL_QUEUE_URL: str = Field(min_length=3)
    BOOKINGS_TABLE: str = Field(min_length=3, description="a paid Checkout Session's booking (the saga's wait)")
    STRIPE_API_BASE: str = Field(default="", description="a late Checkout payment's refund: empty, the real API")


class BookingReadSettings(EdgeSettings):
    """``GET /bookings``, ``GET /bookings/{id}``, ``GET /billing/usage``: the bookings table."""

    BOOKINGS_TABLE: str = Field(min_length=3)


class BookingGetSettings(BookingReadSettings):
    """``GET /bookings/{id}``: also the KMS key that opens a confirmed booking's connection details."""

    BOOKING_KEY_ID: str = Field(min_length=1, description="KMS symmetric key sealing the connection details")


class BookingCreateSettings(EdgeSettings):
    """``POST /bookings``: the bookings table, the offers (looked up), the Powertools idempotency records, the saga
    it starts, and the audit log."""

    BOOKINGS_TABLE: str = Field(min_length=3)
    IDEMPOTENCY_TABLE: str = Field(min_length=3, description="Powertools Idempotency records (24 h, per user)")
    OFFERS_TABLE: str = Field(min_length=3)
    BOOKING_STATE_MACHINE_ARN: str = Field(min_length=3, description="the booking saga (Standard workflow)")
    AUDIT_TABLE: str = Field(min_length=3)
    AUDIT_SPOOL_QUEUE_URL: str = Field(min_length=3)


class BookingCancelSettings(EdgeSettings, StripeSettings, _Capacity):
    """``POST /bookings/{id}/cancel``: the bookings table, Stripe (the refund), the providers' keys (the release),
    the connections and the management endpoint (the push), and the audit log."""

    BOOKINGS_TABLE: str = Field(min_length=3)
    CONNECTIONS_TABLE: str = Field(min_length=3)
    WEBSOCKET_ENDPOINT: str = Field(pattern=r"^https?://")
    AUDIT_TABLE: str = Field(min_length=3)
    AUDIT_SPOOL_QUEUE_URL: str = Field(min_length=3)


class AssistantSettings(EdgeSettings):
    """The assistant's language model (``gpubroker.wiring.assistant_llm``): which engine (``rules``: none, the
    deterministic engines only), the Bedrock model id or the OpenAI-compatible model name, the endpoint of the
    latter, and how long one call may take before the rules engine answers instead. The per-user daily call
    budget and the ``llm`` circuit breaker live in Redis (``REDIS_URL``, Globals), their keys under
    ``ASSISTANT_REDIS_PREFIX`` (empty in AWS; the local stack's own per stack)."""

    ASSISTANT_ENGINE: Literal["rules", "bedrock", "openai"] = Field(default="rules")
    ASSISTANT_MODEL_ID: str = Field(default="", description="empty: the adapter's default model")
    ASSISTANT_ENDPOINT: str = Field(
        default="", pattern=r"^(https?://\S+)?$", description="openai: the API base, e.g. http://127.0.0.1:11434/v1"
    )
    ASSISTANT_TIMEOUT_SECONDS: float = Field(default=3.0, gt=0, le=20)
    ASSISTANT_REDIS_PREFIX: str = Field(
        default="", pattern=r"^[A-Za-z0-9:._-]*$", description="before the llm breaker's and budget's Redis keys"
    )


class ConversationSettings(_Settings):
    """``GET /ai/conversations/{id}``: the assistant's conversations."""

    CONVERSATIONS_TABLE: str = Field(min_length=3)


class ConversationDeleteSettings(ConversationSettings):
    """``DELETE /ai/conversations/{id}``: the conversations and the audit log."""

    AUDIT_TABLE: str = Field(min_length=3)
    AUDIT_SPOOL_QUEUE_URL: str = Field(min_length=3)


class ChatSettings(ConversationDeleteSettings, SnapshotSettings, AssistantSettings):
    """``POST /ai/chat``: the conversations, the audit log, what its tools read (the live offers for search and
    rankings, the offers table and price history for one offer's history), and the assistant's language model (the
    tool-use loop of ``ASSISTANT_ENGINE``, sharing the parse route's breaker and budget)."""

    OFFERS_TABLE: str = Field(min_length=3)
    PRICE_HISTORY_TABLE: str = Field(min_length=3)
