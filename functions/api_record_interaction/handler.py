"""POST /interactions (signed in): record that the caller viewed, saved or booked an offer (input to collaborative
filtering). Audited as ``interaction.record`` on the offer."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.adapters.clock import SystemClock
from gpubroker.adapters.dynamodb import DynamoOfferRepository
from gpubroker.adapters.interactions import DynamoInteractionRepository
from gpubroker.api.audit import audit_middleware
from gpubroker.api.identity import acting_user
from gpubroker.api.models import Recorded
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import InteractionSettings, load_settings
from gpubroker.domain.errors import OfferNotFound
from gpubroker.domain.math_requests import InteractionRequest
from gpubroker.ports import Clock, InteractionRepository, OfferRepository
from gpubroker.wiring import audit_log

Settings = InteractionSettings
app = new_resolver()
app.use([audit_middleware(audit_log, action="interaction.record")])


@dataclass(frozen=True)
class Deps:
    offers: OfferRepository
    interactions: InteractionRepository
    clock: Clock


@cache
def default_deps() -> Deps:
    s = load_settings(InteractionSettings)
    return Deps(DynamoOfferRepository(s.OFFERS_TABLE), DynamoInteractionRepository(s.INTERACTIONS_TABLE), SystemClock())


@app.post("/interactions", responses=responses(Recorded, 401, 404, 415, ok_status=201))
def record(request: Annotated[InteractionRequest, Body()]) -> tuple[Recorded, int]:
    user_id = acting_user(app)
    deps: Deps = app.context["deps"]
    app.append_context(audit_resource=f"offer/{request.offer_id}")
    if deps.offers.get(request.offer_id) is None:
        raise OfferNotFound(f"no offer {request.offer_id!r}")
    at = deps.clock.now()
    deps.interactions.record(user_id, request.offer_id, request.kind, at)
    return Recorded(user_id=user_id, offer_id=request.offer_id, kind=request.kind, at=at.isoformat()), 201


lambda_handler = api_handler(app, default_deps)
