"""One error taxonomy. The API layer maps these classes (never their messages) to HTTP statuses."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the domain raises on purpose. ``audit_reason``: why, for the audit log only (never in
    the client's body): set where telling the client would help an attacker (``RefreshRefused``)."""

    code = "domain_error"
    audit_reason: str | None = None

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(DomainError):
    """The request is malformed (400)."""

    code = "invalid_request"


class InvalidLink(InvalidRequest):
    """An email link's token (email verification, password reset) that is forged, expired, of another purpose,
    already used or superseded by a newer link (400). One code and message whatever the reason (the reason goes to
    the audit log only): ask for a new link."""

    code = "invalid_link"

    def __init__(self, reason: str) -> None:
        super().__init__("the link is not valid (expired, already used, or not ours): ask for a new one")
        self.audit_reason = reason


class UnknownParameter(InvalidRequest):
    code = "unknown_parameter"


class RepeatedParameter(InvalidRequest):
    """A parameter that takes one value was given several times (only list parameters repeat)."""

    code = "repeated_parameter"


class InvalidCursor(InvalidRequest):
    code = "invalid_cursor"


class BodyTooDeep(InvalidRequest):
    """A JSON body nested deeper than the front door's bound (400)."""

    code = "body_too_deep"


class NumberTooLong(InvalidRequest):
    """A JSON number with more digits than the front door's bound (400)."""

    code = "number_too_long"


class BodyTooLarge(DomainError):
    """A request body larger than the front door's bound (413)."""

    code = "body_too_large"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class ValidationFailed(DomainError):
    """The request is well formed but a value is out of range or unknown (422)."""

    code = "validation_error"


class PrecisionUnsupported(ValidationFailed):
    """A GPU asked to compute in a number format its architecture lacks (T4 with bf16, A100 with fp8) (422)."""

    code = "precision_unsupported"


class NotFound(DomainError):
    code = "not_found"


class OfferNotFound(NotFound):
    code = "offer_not_found"


class GpuNotFound(NotFound):
    code = "gpu_not_found"


class ProviderNotFound(NotFound):
    code = "provider_not_found"


class NoMarketPrice(NotFound):
    """No live offer gives a price for this GPU, and the request did not pass one."""

    code = "no_market_price"


class Gone(DomainError):
    """Something the caller refers to existed but has expired (410)."""

    code = "gone"


class CursorExpired(Gone):
    code = "cursor_expired"


class Unavailable(DomainError):
    """A dependency has no data yet or is down (503)."""

    code = "unavailable"


class SnapshotMissing(Unavailable):
    code = "snapshot_missing"


class NotReady(Unavailable):
    """The deployment is alive but cannot answer searches yet (no snapshot published, or not readable)."""

    code = "not_ready"


class IngestionBusy(Unavailable):
    """The ingestion function (one run at a time) is busy with another run: retry shortly."""

    code = "ingestion_busy"


class SourceError(DomainError):
    """An offer source could not be read (the ingestion run fails, nothing is written)."""

    code = "source_error"


class Unauthorized(DomainError):
    """Credentials or a token were refused. The message never says which part was wrong (no enumeration)."""

    code = "unauthorized"


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


class InvalidToken(Unauthorized):
    code = "invalid_token"


class RefreshRefused(Unauthorized):
    """A refresh token that was refused, for whatever reason (no fingerprint, a wrong one, reused, revoked,
    expired, no account, ...). The client gets one code and one message for every reason: a specific one would tell
    the holder of a stolen refresh token that it is otherwise valid. The reason goes to the audit log only."""

    code = "refresh_refused"

    def __init__(self, reason: str) -> None:
        super().__init__("the refresh token was refused; sign in again")
        self.audit_reason = reason


class InvalidMfaCode(Unauthorized):
    """A second-factor code that is wrong, or right but already used (replay)."""

    code = "invalid_mfa_code"


class InvalidMfaChallenge(Unauthorized):
    """An MFA challenge that is unknown, expired, spent, or out of attempts."""

    code = "invalid_mfa_challenge"


class Forbidden(DomainError):
    code = "forbidden"


class EmailNotVerified(Forbidden):
    """A route that costs money (bookings, plan changes) needs a verified email address (403): verify it through
    the link POST /auth/verify-email/send mails, then refresh the session for a token that says so."""

    code = "email_not_verified"


class StepUpFailed(Forbidden):
    """A sensitive change (MFA enrolment, disabling it, new recovery codes) needs the account's password or a
    current TOTP code in the request, and the one given was wrong, reused, or not possible for this account (403)."""

    code = "step_up_failed"


class Conflict(DomainError):
    """The request contradicts the resource's current state (409)."""

    code = "conflict"


class MfaAlreadyEnabled(Conflict):
    code = "mfa_already_enabled"


class MfaNotEnabled(Conflict):
    code = "mfa_not_enabled"


class EmailAlreadyVerified(Conflict):
    code = "email_already_verified"


class AccountNotFound(NotFound):
    """No account has this email (an operator's command only: the public routes never say so)."""

    code = "account_not_found"


class MailUnavailable(Unavailable):
    """The mail service (Amazon SES) refused or did not answer: the message was not sent."""

    code = "mail_unavailable"


class BuiltinProvider(Conflict):
    """A built-in provider (named in the code, re-ingested by its schedule) cannot be removed."""

    code = "builtin_provider"


class TooManyRequests(DomainError):
    """Throttled; ``retry_after`` seconds (an integer >= 1) until a retry can succeed."""

    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = max(1, int(retry_after))


class ProvisioningError(DomainError):
    """A provider's create/terminate/describe call failed. ``transient``: the booking saga may retry the step
    (with the same idempotency key); otherwise it compensates at once. Messages never carry credentials or
    connection details."""

    code = "provisioning_error"
    transient = False

    def __init__(self, message: str, *, provider: str, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.provider = provider


class NoCapacity(ProvisioningError):
    """The provider has no free machine of that type/region now (a retry later may succeed, not within a saga)."""

    code = "no_capacity"


class QuotaExceeded(ProvisioningError):
    """Our account's quota/limit/balance at the provider forbids another instance."""

    code = "quota_exceeded"


class ProviderAuthFailed(ProvisioningError):
    """The provider refused our API key (401/403)."""

    code = "provider_auth_failed"


class ProviderUnavailable(ProvisioningError):
    """5xx, 429, timeout or a dropped connection: transient, retry with the same idempotency key."""

    code = "provider_unavailable"
    transient = True


class ProviderRejected(ProvisioningError):
    """Any other refusal (a 4xx we cannot classify, an unknown offer): permanent."""

    code = "provider_rejected"


class InvalidSignature(InvalidRequest):
    """A Stripe webhook whose ``Stripe-Signature`` is missing, malformed, not made with our endpoint secret, or
    older than the tolerance (400). One code whatever the reason (the reason goes to the audit log only)."""

    code = "invalid_signature"

    def __init__(self, reason: str) -> None:
        super().__init__("the webhook's Stripe-Signature is missing, invalid or too old")
        self.audit_reason = reason


class InvalidWebhookEvent(InvalidRequest):
    """A correctly signed webhook body that is not a Stripe event (no id, type or object) (400)."""

    code = "invalid_event"


class IdempotencyKeyRequired(InvalidRequest):
    """``POST /bookings`` without an ``Idempotency-Key`` header (or an empty or over-long one) (400)."""

    code = "idempotency_key_required"


class IdempotencyKeyReused(ValidationFailed):
    """The same ``Idempotency-Key`` with another body within 24 h (422)."""

    code = "idempotency_key_reused"


class IdempotencyInProgress(Conflict):
    """A request with this ``Idempotency-Key`` is still being processed (409; retry shortly)."""

    code = "idempotency_in_progress"
    retry_after = 1  # answered as Retry-After (seconds)


class BookingNotFound(NotFound):
    """No such booking for this user (another user's booking is a 404 too, not a 403)."""

    code = "booking_not_found"


class ConversationNotFound(NotFound):
    """No such assistant conversation for this user (another user's is a 404 too, not a 403)."""

    code = "conversation_not_found"


class OfferUnavailable(Conflict):
    """The offer exists but is not available now (409)."""

    code = "offer_unavailable"


class BookingNotCancellable(Conflict):
    """Cancelling a failed, cancelled or needs-attention booking (409)."""

    code = "booking_not_cancellable"


class BookingInProgress(Conflict):
    """Cancelling a booking whose saga is still running (pending .. charged, awaiting_payment) (409): retry once it
    is confirmed (the saga itself undoes a booking that fails)."""

    code = "booking_in_progress"


class SagaUnavailable(Unavailable):
    """Step Functions refused or did not answer ``StartExecution`` (503): the booking is recorded; retry
    ``POST /bookings`` with the same ``Idempotency-Key`` to start it."""

    code = "saga_unavailable"


class GpuCountNotAllowed(ValidationFailed):
    """``gpu_count`` the offer does not allow (422)."""

    code = "gpu_count_not_allowed"


class PriceChanged(Conflict):
    """The booking saga's validate step: the offer's live price is above the booking's ``max_price_per_hour``
    (the booking fails with reason ``price_changed`` and the new price in ``reason_detail``)."""

    code = "price_changed"


class BookingClosed(Conflict):
    """A saga step found its booking already failed, cancelled or needing attention (the saga compensates)."""

    code = "booking_closed"


class PaymentDeclined(DomainError):
    """The card was declined or the payment otherwise refused (permanent: the saga compensates)."""

    code = "payment_declined"


class PaymentsUnavailable(Unavailable):
    """Stripe answered 5xx, 429 or timed out (transient: the saga retries the step with the same key)."""

    code = "payments_unavailable"


class AmountTooSmall(ValidationFailed):
    """A booking whose amount is below the smallest charge Stripe accepts (422): book more hours or GPUs."""

    code = "amount_too_small"


# An AWS dependency's throttling, as botocore's ClientError carries it: the error map (api.resolver) answers it 503
# with Retry-After, and the AWS adapters' retries (adapters.aws) are tuned around it.
THROTTLED = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "Throttling",
                       "RequestLimitExceeded", "TooManyRequestsException", "SlowDown"})  # fmt: skip
"""The error codes an AWS service answers when it throttles (botocore retries them; these are what is left)."""


def throttled(exc: BaseException) -> bool:
    """Whether an AWS call failed because the service throttled it after botocore's own retries (DynamoDB's
    ``ProvisionedThroughputExceededException``, ``ThrottlingException``, S3's ``SlowDown``, ...): a transient
    condition, answered 503 with ``Retry-After`` (gpubroker.api.resolver), never a 500."""
    code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
    return code in THROTTLED
