"""POST /math/ensemble-recommend: TOPSIS + collaborative + content, with a cold-start path and explanations."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.math_models import RecommendationOut
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import PersonalSettings
from gpubroker.domain.math_requests import EnsembleRequest
from gpubroker.services.recommend import ensemble_recommend
from gpubroker.wiring import MathDeps, personal_deps

Settings = PersonalSettings
app = new_resolver()


@app.post("/math/ensemble-recommend", responses=responses(RecommendationOut, 503, 415))
def ensemble_route(request: Annotated[EnsembleRequest, Body()]) -> RecommendationOut:
    deps: MathDeps = app.context["deps"]
    model = deps.models.get() if deps.models else None
    history = deps.interactions.history(request.user_id) if deps.interactions and request.user_id else None
    return RecommendationOut.model_validate(
        ensemble_recommend(request, om=deps.offers.get(), cf=model, history=history)
    )


lambda_handler = api_handler(app, personal_deps)
