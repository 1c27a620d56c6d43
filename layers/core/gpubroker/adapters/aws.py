"""boto3 clients, created lazily (never at import) so moto / a local endpoint can start first.

boto3 itself honours ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``; nothing here overrides it.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    cfg = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=3, read_timeout=10)
    return boto3.session.Session().client(service, config=cfg)  # type: ignore[call-overload]


@cache
def dynamodb_table(name: str) -> Any:
    import boto3

    return boto3.session.Session().resource("dynamodb").Table(name)


def conditional_check_failed(exc: BaseException) -> bool:
    """Whether a DynamoDB write was refused by its condition (``ConditionalCheckFailedException``), the answer a
    conditional write gives when another writer was first."""
    code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
    return bool(code == "ConditionalCheckFailedException")


THROTTLED = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "Throttling",
                       "RequestLimitExceeded", "TooManyRequestsException", "SlowDown"})  # fmt: skip
"""The error codes an AWS service answers when it throttles (botocore retries them; these are what is left)."""


def throttled(exc: BaseException) -> bool:
    """Whether an AWS call failed because the service throttled it after botocore's own retries (DynamoDB's
    ``ProvisionedThroughputExceededException``, ``ThrottlingException``, S3's ``SlowDown``, ...): a transient
    condition, answered 503 with ``Retry-After`` (gpubroker.api.resolver), never a 500."""
    code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
    return code in THROTTLED


def reset() -> None:
    """Forget cached clients (tests switch endpoints between runs)."""
    client.cache_clear()
    dynamodb_table.cache_clear()
