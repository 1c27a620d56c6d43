"""Interfaces the services depend on. Adapters implement them; tests pass in-memory fakes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from gpubroker.domain.gpus import GpuCatalog, GpuSpec
from gpubroker.domain.offers import Offer, RawOffer, RejectedRow
from gpubroker.domain.plans import WINDOW_S

if TYPE_CHECKING:  # annotations only: these pull in PyJWT / cryptography, which most functions never load
    from gpubroker.domain.accounts import User
    from gpubroker.domain.audit import ArchivedCheckpoint, AuditEntry, EntryFilter, EntrySearch, SignedCheckpoint
    from gpubroker.domain.bookings import Booking
    from gpubroker.domain.chat import Turn
    from gpubroker.domain.key_rotation import KeyRotation
    from gpubroker.domain.llm import Message, ModelTurn, ToolSpec
    from gpubroker.domain.mfa import Challenge, MfaState
    from gpubroker.domain.money import Money
    from gpubroker.domain.plans import Decision
    from gpubroker.domain.provisioning import Reservation
    from gpubroker.domain.search import OfferFilters
    from gpubroker.domain.subscriptions import FeedEntry, OfferChange, SeenConnection
    from gpubroker.domain.tokens import KeyRing


class Clock(Protocol):
    def now(self) -> datetime: ...


class OfferSource(Protocol):
    provider: str

    def rows(self) -> Iterator[RawOffer | RejectedRow]: ...


class ConnectionRepository(Protocol):
    """Open WebSocket connections and their subscriptions (adapters/connections.py)."""

    def connect(self, connection_id: str, *, at: datetime, user_id: str | None) -> None:
        """Store a new connection (``last_seen`` = ``at``): the verified user's id, or None (anonymous)."""
        ...

    def touch(self, connection_id: str, *, at: datetime) -> bool:
        """Record that the client was heard from at ``at``; False (nothing written) when the connection is not
        stored (swept, or gone)."""
        ...

    def seen_before(self, cutoff: datetime) -> list[SeenConnection]:
        """Every stored connection last heard from before ``cutoff``, and every one without ``last_seen``."""
        ...

    def delete_silent(self, connection_id: str, *, cutoff: datetime) -> bool:
        """Delete the connection and its subscription if it is still silent since ``cutoff`` (no message recorded
        since the read); False when it was heard from meanwhile or is gone."""
        ...

    def subscribe(self, connection_id: str, filters: OfferFilters, *, at: Any) -> None:
        """Store the connection's (normalised) filters, replacing any earlier ones."""
        ...

    def delete(self, connection_id: str) -> None: ...

    def subscribers(self, keys: Iterable[str]) -> list[tuple[str, str]]:
        """(connection id, stored filters as canonical JSON) of every subscription indexed under ``keys``."""
        ...


class ConnectionPoster(Protocol):
    """Posts one message to one connection (the @connections API); False when the connection is gone."""

    def post(self, connection_id: str, data: bytes) -> bool: ...


class ConnectionCloser(Protocol):
    """Closes one connection (the @connections API's DELETE); False when it is already gone."""

    def close(self, connection_id: str) -> bool: ...


class PriceFeed(Protocol):
    """The numbered changes the live prices are made of, kept for a while to replay (adapters/price_feed.py)."""

    def append(self, changes: Sequence[OfferChange], *, at: datetime) -> int:
        """Number ``changes`` (consecutively, after every number handed out before) and store them; returns the
        first number."""
        ...

    def head(self) -> int:
        """The last number handed out (0 before the first)."""
        ...

    def entry_at(self, seq: int) -> FeedEntry | None:
        """The stored batch that holds ``seq``, if it is still kept."""
        ...

    def since(self, at: datetime) -> list[FeedEntry]:
        """Every stored batch from the newest back to (not including) the first one numbered before ``at``, oldest
        first: a run of consecutive batches reaching the head."""
        ...

    def after(self, seq: int) -> list[FeedEntry]:
        """Every stored batch holding numbers greater than ``seq``, oldest first."""
        ...


class FanoutQueue(Protocol):
    """Hands delivery chunks to the fan-out workers (one queue message each)."""

    def send(self, bodies: Sequence[str]) -> None: ...


class RotatingKeys(Protocol):
    """The signing keys' rotation path (adapters/keyring.SecretsKeyRing)."""

    def rotate(self) -> KeyRotation: ...


class OfferSourceFactory(Protocol):
    """Builds the source an ingestion event names: a catalog (path or URL), else the provider's live API."""

    def source(self, provider: str, *, catalog: str | None, base_url: str | None) -> OfferSource: ...


class OfferRepository(Protocol):
    def offers_of(self, provider: str) -> list[Offer]: ...

    def put_many(self, offers: Sequence[Offer]) -> None: ...

    def get(self, offer_id: str) -> Offer | None: ...


class PriceHistoryRepository(Protocol):
    def append(self, points: Sequence[Mapping[str, Any]]) -> None: ...


class SnapshotReader(Protocol):
    def manifest(self) -> dict[str, Any] | None: ...

    def load(self, version: str) -> bytes | None: ...


class SnapshotStore(SnapshotReader, Protocol):
    def put_part(self, provider: str, records: Sequence[Mapping[str, Any]]) -> None: ...

    def parts(self) -> dict[str, list[dict[str, Any]]]: ...

    def register(self, provider: str, info: Mapping[str, Any]) -> None:
        """Store a catalog-only provider's registration (display name, website, marketplace)."""
        ...

    def registrations(self) -> dict[str, dict[str, Any]]: ...

    def remove(self, provider: str) -> None:
        """Delete a provider's part, then its registration (absent ones are no error)."""
        ...

    def publish(self, version: str, data: bytes, manifest: Mapping[str, Any]) -> None: ...


class IngestionRunner(Protocol):
    """Runs one event through the ingestion function, the snapshot's one writer, and returns its answer. Raises
    the domain error the function raised (by class name), ``IngestionBusy`` when it is running another event."""

    def run(self, event: Mapping[str, Any]) -> dict[str, Any]: ...


class GpuCatalogRepository(Protocol):
    def version(self) -> str | None: ...

    def replace_all(self, catalog: GpuCatalog) -> None: ...

    def list_all(self) -> list[GpuSpec]: ...

    def get(self, model: str) -> GpuSpec | None: ...


class InteractionRepository(Protocol):
    """User x offer interactions (views, saves, bookings) for collaborative filtering."""

    def record(self, user_id: str, offer_id: str, kind: str, at: datetime) -> None: ...

    def history(self, user_id: str) -> dict[str, dict[str, int]]: ...

    def scan_all(self) -> Iterator[tuple[str, str, dict[str, int]]]: ...


class ModelStore(Protocol):
    """Trained model artifacts (bytes) under a name, with a small JSON manifest."""

    def save(self, name: str, data: bytes, manifest: Mapping[str, Any]) -> None: ...

    def load(self, name: str) -> bytes | None: ...


class PriceHistoryReader(Protocol):
    """Reads of the price-history table (points are the dicts ingestion appends)."""

    def offer_points(
        self, offer_id: str, *, since: str | None, until: str | None, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]: ...

    def gpu_points(self, gpu_model: str, *, days: int, prefix: str | None = None) -> list[dict[str, Any]]: ...


class PriceSeriesSource(Protocol):
    """The real public price series (``adapters.price_series.PublicPriceSeries``): price-history points, each
    naming its ``series`` id."""

    def points(self) -> Iterator[dict[str, Any]]: ...


class RateLimiter(Protocol):
    """A sliding-window limiter (adapters/ratelimit.py): plan rate limits and login throttling."""

    def check(self, principal: str, limit: int, window_s: float = WINDOW_S) -> Decision: ...


class UserStore(Protocol):
    def create(self, user: User) -> bool:
        """Store a new user; False when the email is taken (nothing written)."""

    def by_email(self, email: str) -> User | None: ...

    def by_id(self, user_id: str) -> User | None:
        """The account with this id (a signed-in caller's Principal carries the id, not the email)."""

    def mark_email_verified(self, email: str, user_id: str) -> bool:
        """Record the email as verified; only if the account ``email`` is still the one with ``user_id`` (an account
        removed and registered again is another account: the old link is refused)."""

    def set_reset_link(self, email: str, jti: str, expires_at: int) -> bool:
        """Record ``jti`` as the account's one live password-reset link (a newer link supersedes it); False when
        there is no such account (nothing written)."""

    def reset_password(self, email: str, user_id: str, jti: str, password_hash: str) -> bool:
        """Set the password hash, mark the email verified and forget the reset link, in one conditional write:
        only if the account is ``user_id`` and ``jti`` is still its live reset link. True for exactly one caller."""

    def grant_role(self, email: str, role: str) -> bool:
        """Add ``role`` to the account's roles; False when there is no such account."""


class MfaStore(Protocol):
    """MFA state on the account's profile, and the short-lived challenges of the second step.

    Every method that returns a bool is a conditional write: True for exactly one of any number of concurrent
    callers, False (nothing written) when its condition does not hold."""

    def state(self, email: str) -> MfaState | None: ...

    def set_pending_secret(self, email: str, secret: str) -> bool:
        """Store a secret awaiting confirmation; False when MFA is already enabled (or there is no account)."""

    def activate(self, email: str, secret: str, step: int, recovery_hashes: Sequence[str]) -> bool:
        """Pending ``secret`` becomes the secret, ``step`` the last step used, recovery hashes stored; only if
        ``secret`` is still the pending one, MFA is off, and ``step`` is later than the last step used."""

    def advance_step(self, email: str, step: int) -> bool:
        """Record ``step`` as used; only if MFA is on and ``step`` is later than the last step used."""

    def consume_recovery_code(self, email: str, code_hash: str) -> bool:
        """Remove ``code_hash`` from the account's recovery hashes; only if MFA is on and it is still there."""

    def put_challenge(self, challenge: Challenge) -> None: ...

    def challenge(self, challenge_id: str) -> Challenge | None: ...

    def count_attempt(self, challenge_id: str, max_attempts: int, now: int) -> bool:
        """Count one attempt; only if the challenge exists, is not expired at ``now`` (epoch s), and has been tried
        fewer than ``max_attempts`` times."""

    def spend_challenge(self, challenge_id: str) -> bool:
        """Delete the challenge; True for the one caller that deleted it."""

    def disable(self, email: str) -> bool:
        """MFA off: the secret, any pending secret and the recovery hashes removed (the last used step is kept);
        only if MFA is on."""

    def replace_recovery_codes(self, email: str, recovery_hashes: Sequence[str]) -> bool:
        """The account's recovery hashes become ``recovery_hashes`` (the old codes stop working); only if MFA is on."""


class RefreshStore(Protocol):
    def start_family(self, family: str, user_id: str, expires_at: int) -> None: ...

    def add(self, jti: str, family: str, expires_at: int) -> None: ...

    def spend(self, jti: str) -> bool:
        """Mark the token used; True for exactly one caller (conditional write), False if it was spent already."""

    def revoke_family(self, family: str) -> None: ...

    def family_revoked(self, family: str) -> bool: ...

    def families_of(self, user_id: str) -> list[str]:
        """The ids of the user's session families (revoked or not, until their TTL removes them)."""


class Mailer(Protocol):
    """Sends one plain-text email (Amazon SES in AWS and on the local stack's moto)."""

    def send(self, to: str, subject: str, text: str) -> None:
        """Raises ``MailUnavailable`` when the message could not be handed to the mail service."""


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    @property
    def dummy_hash(self) -> str: ...


class KeyRingSource(Protocol):
    """The signers' keys, private ones included (the auth functions)."""

    def ring(self) -> KeyRing: ...


class PublishedKeySource(Protocol):
    """The published JWKS (everything that verifies a token, and ``GET /.well-known/jwks.json``)."""

    def public_key(self, kid: str) -> Any: ...

    def jwks(self) -> dict[str, Any]: ...


class AuditSpool(Protocol):
    """Where an audit entry waits when its append failed (adapters/audit_spool.py), until it is re-appended."""

    def put(self, entry: dict[str, str]) -> None: ...

    def take(self, max_n: int = 10) -> list[tuple[dict[str, Any], str]]: ...

    def done(self, receipt: str) -> None: ...


class AuditLog(Protocol):
    shards: int

    def append(  # noqa: PLR0917 - the audit record's fields, in the order they are read aloud
        self,
        actor: str,
        action: str,
        resource: str,
        request_id: str,
        outcome: str,
        ts: str | datetime | None = None,
    ) -> AuditEntry: ...

    def head(self, shard: int) -> AuditEntry | None: ...

    def entries(self, shard: int, *, after_seq: int | None = None, limit: int = 100) -> list[AuditEntry]: ...

    def all_entries(self, shard: int) -> list[AuditEntry]: ...

    def search(
        self, shard: int, where: EntryFilter, *, after_seq: int | None = None, limit: int = 100, budget: int = 5000
    ) -> EntrySearch:
        """The entries of ``shard`` after ``after_seq`` that ``where`` matches, in seq order: at most ``limit``,
        reading at most about ``budget`` entries (the filter is applied where the entries are, not here)."""
        ...

    def put_checkpoint(self, signed: SignedCheckpoint) -> bool: ...

    def latest_checkpoint(self, shard: int) -> SignedCheckpoint | None: ...

    def recent_checkpoints(self, shard: int, n: int = 2) -> list[SignedCheckpoint]:
        """The ``n`` newest checkpoints of ``shard``, newest first."""
        ...

    def checkpoints(self, shard: int, *, after_size: int, upto_size: int, limit: int = 1000) -> list[SignedCheckpoint]:
        """The checkpoints with ``after_size < size <= upto_size``, smallest first, at most ``limit``."""
        ...


class VerifyMarker(Protocol):
    """Where the checkpoint function's rolling verification keeps its verified-through marker between runs."""

    def load_marker(self) -> str | None: ...

    def save_marker(self, cursor: str | None) -> None: ...


class CheckpointArchive(Protocol):
    """Checkpoints published outside the table, where nobody can delete or overwrite them (S3 Object Lock,
    adapters/audit_archive.py)."""

    def publish(self, signed: SignedCheckpoint) -> None: ...

    def versions_from(self, shard: int, size: int, limit: int = 20) -> list[ArchivedCheckpoint]:
        """Every stored version of ``shard``'s checkpoints of size >= ``size`` (at most ``limit``), smallest first;
        a deletion marker hides nothing here."""
        ...


class CheckpointSigner(Protocol):
    key_id: str

    def sign(self, message: bytes) -> bytes: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


class CapacityProvider(Protocol):
    """Create-instance API of one provider (the booking saga's "reserve capacity" step and its compensation).

    ``reserve`` is idempotent by ``idempotency_key``: called again with the same key it returns the instance the
    first call made (it looks the key up at the provider before creating). ``release`` is idempotent: an
    instance that is gone or never existed is success. Errors: ``gpubroker.domain.errors.ProvisioningError``
    subclasses, whose ``transient`` says whether the saga may retry."""

    provider: str

    def reserve(self, offer: Offer, *, gpu_count: int, idempotency_key: str) -> Reservation: ...

    def release(self, instance_id: str) -> None: ...

    def describe(self, instance_id: str) -> Reservation: ...


class BookingStore(Protocol):
    """The bookings table (``adapters/booking_store.py``). Keyed by (user, booking id); a user's list is newest
    first. Writes are conditional on the version read (``Booking.version``): a lost race returns ``False`` and the
    caller re-reads. Connection details are sealed at rest by the adapter."""

    def create(self, booking: Booking) -> bool:
        """Put a new booking; ``False`` when one with that id exists (a retried request: re-read it)."""
        ...

    def get(self, user_id: str, booking_id: str) -> Booking | None: ...

    def list(self, user_id: str, *, limit: int, cursor: str | None = None) -> tuple[list[Booking], str | None]:
        """The user's bookings, newest first, and the opaque cursor of the next page (``None``: the last)."""
        ...

    def save(self, booking: Booking) -> bool:
        """Write ``booking`` (its ``version`` already incremented) if the stored version is ``version - 1``."""
        ...


class Payments(Protocol):
    """Stripe, as the booking saga and billing use it (``adapters/payments.py``; locally the Stripe-compatible
    server). Every call that creates something takes a deterministic ``idempotency_key`` (``booking:{id}:charge``),
    and the saga records each id it gets back before it moves on, so a retried step finds it instead of repeating
    it. Errors: ``PaymentDeclined`` (permanent), ``PaymentsUnavailable`` (transient: 5xx, timeout)."""

    def customer_for(self, user_id: str, email: str) -> str:
        """The user's Stripe customer id, created once (idempotency key ``user:{id}:customer``)."""
        ...

    def saved_payment_method(self, customer_id: str) -> str | None: ...

    def charge(self, *, customer_id: str, payment_method: str, amount: Money, idempotency_key: str,
               metadata: dict[str, str]) -> str:  # fmt: skip
        """Create and confirm an off-session PaymentIntent; its id. Declined: ``PaymentDeclined``."""
        ...

    def find_charge(self, payment_intent_id: str) -> tuple[str, Money]:
        """A PaymentIntent's status and amount received."""
        ...

    def refund(self, payment_intent_id: str, amount: Money, *, idempotency_key: str) -> str:
        """Refund part or all of a PaymentIntent; the refund id. Already fully refunded: the existing refund."""
        ...

    def checkout_for_booking(self, *, customer_id: str, amount: Money, description: str, booking_id: str,
                             idempotency_key: str) -> tuple[str, str]:  # fmt: skip
        """A Checkout Session (mode ``payment``, saving the card for later) for a booking; (session id, URL)."""
        ...

    def checkout_for_plan(self, *, customer_id: str, plan: str, user_id: str, idempotency_key: str) -> tuple[str, str]:
        """A Checkout Session (mode ``subscription``) for a plan's price; (session id, URL)."""
        ...

    def meter_usage(self, *, customer_id: str, gpu_hours: int, identifier: str) -> str:
        """A ``gpu_hours`` billing meter event; ``identifier`` makes a retry count once. The identifier."""
        ...


class BookingNotifier(Protocol):
    """Pushes a booking's status to its owner's signed-in WebSocket connections as ``{"type": "booking", ...}``
    (never to anyone else's; anonymous connections get nothing). Best effort: a gone connection is dropped."""

    def notify(self, booking: Booking) -> int:
        """The number of connections the message reached."""
        ...


class SagaStarter(Protocol):
    """Starts the booking saga (Step Functions ``StartExecution``, Standard workflow, execution name = booking id).
    Starting it again for the same booking with the same input is a no-op, as Step Functions guarantees."""

    def start(self, booking_id: str, user_id: str, correlation_id: str | None = None) -> str:
        """The execution ARN. ``correlation_id``: the creating request's, carried in the execution's input to
        every step (the booking id when there is none)."""
        ...


class TaskTokens(Protocol):
    """Step Functions' callback API: the saga's charge step waits for the Checkout webhook with a task token."""

    def succeed(self, token: str, output: dict[str, Any]) -> None: ...

    def fail(self, token: str, error: str, cause: str) -> None: ...


class CircuitBreaker(Protocol):
    """A circuit breaker (``adapters.breaker``: Redis-shared or per process): ask before a call, report after."""

    def allow(self) -> bool: ...

    def record_success(self) -> None: ...

    def record_failure(self) -> None: ...


class LanguageModel(Protocol):
    """A language model behind an API (``gpubroker.adapters.llm``: Amazon Bedrock Converse, or any OpenAI-compatible
    chat endpoint). Every call is one request, never retried, bounded by ``timeout_s``; a failure raises
    ``gpubroker.domain.llm.LlmError`` (``LlmTimeout``, ``LlmBadAnswer``). The circuit breaker and the per-user
    budget are the caller's (``services.assistant.parse_llm``), so one model serves every use."""

    engine: str
    """``bedrock`` or ``openai``: what the answers name as their ``engine``."""

    def complete_json(self, system: str, user: str, schema: Mapping[str, Any], *, timeout_s: float) -> dict[str, Any]:
        """The JSON object the model fills in for ``schema`` (a JSON schema without ``$ref``), asked as a tool the
        model is forced to call. Not validated here: the caller validates it with its own model."""
        ...

    def converse(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        system: str,
        timeout_s: float,
        tool_choice: str | None = None,
        max_tokens: int = 1024,
    ) -> ModelTurn:
        """One turn of a conversation with tools: the model's text and the tool calls it asks for (the caller runs
        them and sends their results back as ``role="tool"`` messages). ``tool_choice`` names a tool the model
        must call; None lets it choose (or answer in text)."""
        ...


class LlmBudget(Protocol):
    """Language-model calls per user per UTC day (``adapters.llm.budget``), counted before each call."""

    def take(self, user_id: str, limit: int) -> bool:
        """Count one call for ``user_id`` today; False (over budget) when ``limit`` calls were already counted.
        Raises ``gpubroker.domain.llm.BudgetUnavailable`` when the count cannot be kept (Redis down)."""
        ...

    def give_back(self, user_id: str) -> None:
        """Uncount a call that was counted but not made (the breaker refused it)."""
        ...

    def used(self, user_id: str) -> int:
        """Calls counted for ``user_id`` today."""


class ConversationStore(Protocol):
    """The assistant's conversations (``ConversationsTable``): turns keyed by owner and conversation, each item
    expiring at its ``expires_at`` (DynamoDB TTL). An owner reads only its own: another owner's conversation id
    finds nothing. The text is stored, never logged."""

    def recent(self, owner: str, conversation_id: str, limit: int) -> list[Turn]:
        """The last ``limit`` turns, oldest first (empty: no such conversation for this owner)."""
        ...

    def turns(self, owner: str, conversation_id: str) -> list[Turn]:
        """Every stored turn, oldest first."""
        ...

    def append(self, owner: str, conversation_id: str, turns: Sequence[Turn], *, expires_at: int) -> None: ...

    def delete(self, owner: str, conversation_id: str) -> int:
        """Removes every turn; the number removed (0: nothing of this owner's under that id)."""
        ...
