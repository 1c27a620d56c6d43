"""Shared field types (request bodies validated in strict mode, the offer id) and the one rounding rule."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, Field


def _integral(value: Any) -> Any:
    """JSON Schema's "integer" includes 4.0: accept integral floats as ints (strict mode would refuse them)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Int = Annotated[int, BeforeValidator(_integral)]

# An offer id (``domain.offers.offer_id_for``: ``<provider>-<16 hex>``): the one rule for bodies, models and the
# ``{offer_id}`` path parameters (``gpubroker.api.params.OfferIdPath``).
OFFER_ID_PATTERN = r"^[a-z0-9-]+$"
OFFER_ID_MIN_LENGTH = 3
OFFER_ID_MAX_LENGTH = 80
OfferId = Annotated[
    str, Field(min_length=OFFER_ID_MIN_LENGTH, max_length=OFFER_ID_MAX_LENGTH, pattern=OFFER_ID_PATTERN)
]

# A snapshot version (``services.ingestion.snapshot_version``: ``<UTC %Y%m%dT%H%M%S%f>Z-<8 hex>``). A pagination
# cursor names one, and it becomes part of an S3 key: a cursor's version must match this before it is used.
SNAPSHOT_VERSION_PATTERN = r"^[0-9]{8}T[0-9]{12}Z-[0-9a-f]{8}$"


SIGNIFICANT = 4


def rounded(x: float, decimals: int) -> float:
    """``decimals`` decimals, or four significant figures where that is finer: a real figure never rounds to 0.0.
    Zero, NaN and infinities pass through."""
    value = float(x)
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(decimals, SIGNIFICANT - 1 - math.floor(math.log10(abs(value)))))


def r4(x: float) -> float:
    """Four decimals, or four significant figures where that is finer (0.0000093 USD per 1M tokens stays 9.3e-06;
    123.45678 -> 123.4568): the one rounding rule. It happens at the API boundary (what a service returns), and
    nowhere else."""
    return rounded(x, 4)
