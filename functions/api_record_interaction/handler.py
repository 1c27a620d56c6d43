"""POST /interactions (signed in): record that the caller viewed, saved or booked an offer (input to collaborative
filtering). Audited as ``interaction.record`` on the offer."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.audit import audit_middleware
from gpubroker.api.identity import acting_user
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import InteractionSettings
from gpubroker.domain.interactions import InteractionRequest, RecordedInteraction
from gpubroker.services.interactions import record_interaction
from gpubroker.wiring.math import InteractionDeps, interaction_deps

Settings = InteractionSettings
Deps = InteractionDeps
app = new_resolver()
app.use([audit_middleware(action="interaction.record")])


@app.post("/interactions", responses=responses(RecordedInteraction, 401, 404, 415, ok_status=201))
def record(request: Annotated[InteractionRequest, Body()]) -> tuple[RecordedInteraction, int]:
    user_id = acting_user(app)
    app.append_context(audit_resource=f"offer/{request.offer_id}")
    deps: Deps = app.context["deps"]
    recorded = record_interaction(user_id, request, offers=deps.offers, interactions=deps.interactions,
                                  clock=deps.clock)  # fmt: skip
    return recorded, 201


lambda_handler = api_handler(app, interaction_deps)
