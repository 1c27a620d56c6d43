"""GET /offers/{offer_id}/similar: the live offers most like this one (content features, cosine)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from gpubroker.api.math_models import SimilarityOut
from gpubroker.api.params import OfferIdPath
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import SnapshotSettings
from gpubroker.services.recommend import similar_offers
from gpubroker.wiring.math import MathDeps, math_deps

Settings = SnapshotSettings
Deps = MathDeps
app = new_resolver()


@app.get("/offers/<offer_id>/similar", responses=responses(SimilarityOut, 404, 503))
def similar(
    offer_id: OfferIdPath,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> SimilarityOut:
    deps: MathDeps = app.context["deps"]
    return SimilarityOut.model_validate(similar_offers(offer_id, limit, offer_math=deps.offers.get()).model_dump())


lambda_handler = api_handler(app, math_deps)
