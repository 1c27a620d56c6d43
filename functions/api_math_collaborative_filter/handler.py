"""POST /math/collaborative-filter (signed in): the caller's predicted scores / top offers from the trained ALS-WR
factors; an admin may name another user."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.identity import acting_user
from gpubroker.api.math_models import RecommendationOut
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import PersonalSettings
from gpubroker.domain.math_requests import CollaborativeRequest
from gpubroker.services.recommend import collaborative
from gpubroker.wiring.math import PersonalDeps, personal_deps

Settings = PersonalSettings
Deps = PersonalDeps
app = new_resolver()


@app.post("/math/collaborative-filter", responses=responses(RecommendationOut, 401, 403, 404, 503, 415))
def collaborative_route(request: Annotated[CollaborativeRequest, Body()]) -> RecommendationOut:
    deps: Deps = app.context["deps"]
    model = deps.models.get()
    user_id = acting_user(app, request.user_id)
    result = collaborative(request, user_id=user_id, offer_math=deps.offers.get(), cf=model)
    return RecommendationOut.model_validate(result.model_dump())


lambda_handler = api_handler(app, personal_deps)
