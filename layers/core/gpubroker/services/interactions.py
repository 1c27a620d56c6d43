"""Recording what a signed-in user does with offers (the collaborative filter's input)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gpubroker.domain.errors import OfferNotFound
from gpubroker.domain.interactions import InteractionRequest, RecordedInteraction

if TYPE_CHECKING:
    from gpubroker.ports import Clock, InteractionRepository, OfferRepository


def record_interaction(
    user_id: str,
    request: InteractionRequest,
    *,
    offers: OfferRepository,
    interactions: InteractionRepository,
    clock: Clock,
) -> RecordedInteraction:
    """Record ``request`` for ``user_id`` now; an offer that does not exist is an ``OfferNotFound`` (nothing is
    written)."""
    if offers.get(request.offer_id) is None:
        raise OfferNotFound(f"no offer {request.offer_id!r}")
    at = clock.now()
    interactions.record(user_id, request.offer_id, request.kind, at)
    return RecordedInteraction(user_id=user_id, offer_id=request.offer_id, kind=request.kind, at=at.isoformat())
