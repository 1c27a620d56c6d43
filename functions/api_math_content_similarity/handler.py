"""POST /math/content-similarity: cosine similarity of offers' feature vectors."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.math_models import SimilarityOut
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import SnapshotSettings
from gpubroker.domain.math_requests import SimilarityRequest
from gpubroker.services.recommend import similarity
from gpubroker.wiring.math import MathDeps, math_deps

Settings = SnapshotSettings
Deps = MathDeps
app = new_resolver()


@app.post("/math/content-similarity", responses=responses(SimilarityOut, 404, 503, 415))
def similarity_route(request: Annotated[SimilarityRequest, Body()]) -> SimilarityOut:
    deps: MathDeps = app.context["deps"]
    return SimilarityOut.model_validate(similarity(request, offer_math=deps.offers.get()).model_dump())


lambda_handler = api_handler(app, math_deps)
