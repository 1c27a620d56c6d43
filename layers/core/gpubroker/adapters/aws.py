"""boto3 clients, created lazily (never at import) so moto / a local endpoint can start first.

boto3 itself honours ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``; nothing here overrides it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

TOTAL_ATTEMPTS = 4
"""Every AWS call's attempts, the first included (botocore's standard retry mode: throttles, 5xx, timeouts). Three
retries wait at most 1 + 2 + 4 s (full jitter, 3.5 s on average), so a dependency that keeps throttling surfaces
inside the API functions' 10 s Timeout as a 503 with Retry-After (gpubroker.api.resolver), not as a Lambda timeout
(502). Measured by ``make chaos`` (dynamodb-throttle): the SDK's previous settings (6 attempts for clients, DynamoDB's
legacy 10 for tables) outlasted the Timeout under a 15 s throttle."""


def _config() -> Any:
    from botocore.config import Config

    return Config(retries={"total_max_attempts": TOTAL_ATTEMPTS, "mode": "standard"}, connect_timeout=3,
                  read_timeout=10)  # fmt: skip


@cache
def client(service: str) -> Any:
    import boto3

    return boto3.session.Session().client(service, config=_config())  # type: ignore[call-overload]


@cache
def dynamodb_table(name: str) -> Any:
    import boto3

    return boto3.session.Session().resource("dynamodb", config=_config()).Table(name)


def conditional_check_failed(exc: BaseException) -> bool:
    """Whether a DynamoDB write was refused by its condition (``ConditionalCheckFailedException``), the answer a
    conditional write gives when another writer was first."""
    code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
    return bool(code == "ConditionalCheckFailedException")


def reset() -> None:
    """Forget cached clients (tests switch endpoints between runs)."""
    client.cache_clear()
    dynamodb_table.cache_clear()
