"""What a signed-in user did with an offer (viewed, saved, booked): the input to collaborative filtering."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from gpubroker.domain.types import OfferId

InteractionKind = Literal["view", "save", "book"]
# explicit rating per (user, offer) = the strongest signal seen: view 1, save 3, book 5 (a 1..5 scale)
INTERACTION_WEIGHTS: dict[str, float] = {"view": 1.0, "save": 3.0, "book": 5.0}


class InteractionRequest(BaseModel):
    """Recorded for the caller (the authorizer's user): a body cannot name another user. JSON types as declared,
    no unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    offer_id: OfferId
    kind: InteractionKind


class RecordedInteraction(BaseModel):
    """One recorded interaction, as ``POST /interactions`` answers it."""

    user_id: str
    offer_id: str
    kind: str
    at: str
