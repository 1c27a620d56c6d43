"""Path parameters shared by several routes, built from the domain's one definition of each value."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from gpubroker.domain.providers import PROVIDER_NAME_MAX_LENGTH, PROVIDER_NAME_MIN_LENGTH, PROVIDER_NAME_PATTERN
from gpubroker.domain.types import OFFER_ID_MAX_LENGTH, OFFER_ID_MIN_LENGTH, OFFER_ID_PATTERN

OfferIdPath = Annotated[
    str, Path(min_length=OFFER_ID_MIN_LENGTH, max_length=OFFER_ID_MAX_LENGTH, pattern=OFFER_ID_PATTERN)
]
"""``{offer_id}`` in a route's path (``domain.types.OfferId`` as a path parameter)."""

ProviderNamePath = Annotated[
    str, Path(min_length=PROVIDER_NAME_MIN_LENGTH, max_length=PROVIDER_NAME_MAX_LENGTH, pattern=PROVIDER_NAME_PATTERN)
]
"""``{name}`` of ``/providers/{name}`` (``domain.providers.ProviderName`` as a path parameter)."""
