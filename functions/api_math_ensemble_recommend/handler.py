"""POST /math/ensemble-recommend (signed in): TOPSIS + collaborative + content for the caller (an admin may name
another user), with a cold-start path and explanations. Anonymous callers: GET /presets/for-you."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.identity import acting_user
from gpubroker.api.math_models import RecommendationOut
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import PersonalSettings
from gpubroker.domain.math_requests import EnsembleRequest
from gpubroker.services.recommend import ensemble_recommend
from gpubroker.wiring.math import PersonalDeps, personal_deps

Settings = PersonalSettings
Deps = PersonalDeps
app = new_resolver()


@app.post("/math/ensemble-recommend", responses=responses(RecommendationOut, 401, 403, 503, 415))
def ensemble_route(request: Annotated[EnsembleRequest, Body()]) -> RecommendationOut:
    deps: Deps = app.context["deps"]
    request = request.model_copy(update={"user_id": acting_user(app, request.user_id)})
    history = deps.interactions.history(request.user_id) if request.user_id else None
    result = ensemble_recommend(request, offer_math=deps.offers.get(), cf=deps.models.get(), history=history)
    return RecommendationOut.model_validate(result.model_dump())


lambda_handler = api_handler(app, personal_deps)
