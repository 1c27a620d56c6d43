"""The assistant chat (``POST /ai/chat``) and its conversations: the request, the answer with its recommendation
cards, the stored turns and the slots the dialogue remembers. Pure pydantic.

The request's ``context.filters`` is the ``GET /offers`` query model itself (``OfferFilters``), so the client sends
what its search page sends and the same validation applies.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gpubroker.domain.search import OfferFilters
from gpubroker.domain.types import OfferId
from gpubroker.domain.workload_spec import FallbackReason

MAX_MESSAGE_CHARS = 2000
MAX_ANSWER_CHARS = 8000  # the answer's markdown is cut here (a card list stays far below it)
MAX_CARDS = 10
MAX_FOLLOW_UPS = 5
CONTEXT_TURNS = 10  # the last turns the dialogue sees
MAX_VISIBLE_OFFERS = 100
CONVERSATION_ID = r"^[A-Za-z0-9_-]{16,64}$"
CONVERSATION_TTL_DAYS = 30
ANONYMOUS_TTL_DAYS = 1

Engine = Literal["rules", "bedrock", "openai"]  # as ``POST /ai/parse-workload`` names them
Role = Literal["user", "assistant"]


def _scalar_types(annotation: Any) -> set[Any]:
    if get_origin(annotation) in (Union, types.UnionType):
        return {a for a in get_args(annotation) if a is not type(None)}
    return {annotation}


class SearchFilters(OfferFilters):
    """The ``GET /offers`` filters (``domain.search.OfferFilters``), under a name of its own in the OpenAPI document
    (the /math routes have an ``OfferFilters`` of their own).

    In a JSON body their types are JSON's: pydantic's lax mode would take ``0`` for ``false`` and ``"3"`` for a
    number (a query string has only strings: ``GET /offers`` needs that), so a body that says otherwise is a 422."""

    @model_validator(mode="before")
    @classmethod
    def _json_types(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name, value in data.items():
            field = cls.model_fields.get(name)
            if field is None or value is None:
                continue
            kinds = _scalar_types(field.annotation)
            if bool in kinds and not isinstance(value, bool):
                raise ValueError(f"{name} is a boolean (true or false)")
            if kinds & {int, float} and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ValueError(f"{name} is a number")
        return data


class ChatContext(BaseModel):
    """What the client shows: its current ``GET /offers`` filters and the offer ids on screen."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    filters: SearchFilters = Field(default_factory=SearchFilters, description="the GET /offers filters in use")
    visible_offer_ids: list[OfferId] = Field(default_factory=list, max_length=MAX_VISIBLE_OFFERS)


class ChatRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, description="the user's words")
    conversation_id: str | None = Field(
        default=None, pattern=CONVERSATION_ID, description="continue this conversation (omit to start one)"
    )
    context: ChatContext | None = Field(default=None, description="the client's current search, if any")


class Card(BaseModel):
    """One recommended offer."""

    model_config = ConfigDict(frozen=True)

    rank: int = Field(ge=1)
    offer_id: str
    provider: str
    gpu: str
    count: int
    price_per_hour: float = Field(description="USD per hour, whole instance")
    region: str = ""
    score: float | None = Field(description="0..1, higher is better (TOPSIS or the ensemble); null: not ranked")
    explanation: str = Field(description="one line: why this offer")
    booking_link: str = Field(description="where to book it yourself (the assistant never books)")


class BookingDraft(BaseModel):
    """A prefilled ``POST /bookings`` body: never placed by the assistant."""

    model_config = ConfigDict(frozen=True)

    offer_id: str
    hours: int
    gpu_count: int | None = None
    max_price_per_hour: dict[str, Any] | None = None
    estimated_total_usd: float
    link: str
    placed: Literal[False] = False


class ChatAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str = Field(description="markdown")
    cards: list[Card] = Field(default_factory=list, max_length=MAX_CARDS)
    follow_up: list[str] = Field(default_factory=list, max_length=MAX_FOLLOW_UPS)
    engine: Engine = "rules"
    conversation_id: str
    intent: str = Field(default="help", description="what the engine understood (find, compare, ...)")
    draft_booking: BookingDraft | None = Field(default=None, description="a prefilled booking, not placed")
    fallback: FallbackReason | None = Field(
        default=None,
        description="why the rules engine answered although a language model is configured: anonymous caller, "
        "daily budget spent (or not countable), breaker open, the model timed out, failed, or answered invalidly",
    )
    persisted: bool = Field(description="false for an anonymous caller's conversation kept one day only")


class Turn(BaseModel):
    """One stored turn: who spoke, the words, the cards shown, and the slots remembered after it."""

    model_config = ConfigDict(frozen=True)

    seq: int = Field(ge=0)
    role: Role
    text: str
    cards: list[Card] = Field(default_factory=list)
    slots: dict[str, Any] = Field(default_factory=dict)
    at: str


class ConversationOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    conversation_id: str
    turns: list[Turn]
