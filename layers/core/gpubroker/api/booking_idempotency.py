"""``POST /bookings``' replay: Powertools Idempotency around the create, keyed by (user id, ``Idempotency-Key``).

- One record per (user, key) in ``IdempotencyTable`` (``DynamoDBPersistenceLayer``, PK ``id``, TTL ``expiration``)
  for 24 h (``expires_after_seconds=86400``): the key is the MD5 of ``[user_id, key]`` (``event_key_jmespath``), so
  two users' equal keys are two records, and no record holds the raw key or user id.
- ``payload_validation_jmespath="body"``: the normalised body (the validated model, dumped as JSON) is hashed into
  the record; the same key with another body is ``IdempotencyValidationError`` -> 422 ``idempotency_key_reused``.
- The first answer (status code and body) is what the record stores; a replay returns it unchanged.
- A request while the first is still running: ``IdempotencyAlreadyInProgressError`` -> 409
  ``idempotency_in_progress`` with ``Retry-After: 1``. The in-progress marker expires with the Lambda's remaining
  time (``register_lambda_context``), so a crashed first attempt does not block the key for 24 h.
- A domain error (404 unknown offer, 409 unavailable, 422) is not stored: Powertools deletes the in-progress record
  when the function raises, so the client can fix and retry with the same key (and the bad request left nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

from gpubroker.domain.bookings import IDEMPOTENCY_KEY_MAX, IDEMPOTENCY_TTL_S
from gpubroker.domain.errors import IdempotencyInProgress, IdempotencyKeyRequired, IdempotencyKeyReused

Answer = dict[str, Any]  # {"status_code": int, "body": {...}}
KEY_PREFIX: Final = "booking-create"


def checked_key(value: str | None) -> str:
    """The ``Idempotency-Key`` header: required, 1..255 characters (400 ``idempotency_key_required``)."""
    if value is None or not value.strip() or len(value) > IDEMPOTENCY_KEY_MAX:
        raise IdempotencyKeyRequired(
            f"send an Idempotency-Key header (1..{IDEMPOTENCY_KEY_MAX} characters, e.g. a UUID) with POST /bookings"
        )
    return value


def config(context: Any = None) -> IdempotencyConfig:
    cfg = IdempotencyConfig(
        event_key_jmespath="[user_id, key]",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_TTL_S,
    )
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        cfg.register_lambda_context(context)
    return cfg


def replayed(
    run: Callable[[], Answer], *, user_id: str, key: str, body: dict[str, Any], persistence: BasePersistenceLayer,
    context: Any = None,
) -> Answer:  # fmt: skip
    """``run()``'s answer for (user, key), computed once and replayed for 24 h; see the module docstring."""

    def create(request: dict[str, Any]) -> Answer:
        return run()

    guarded = idempotent_function(create, data_keyword_argument="request", persistence_store=persistence,
                                  config=config(context), key_prefix=KEY_PREFIX)  # fmt: skip
    try:
        answer: Answer = guarded(request={"user_id": user_id, "key": key, "body": body})
    except IdempotencyValidationError:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used with another body in the last 24 hours: use a new key"
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise IdempotencyInProgress("a request with this Idempotency-Key is still running: retry in a second") from None
    return answer
