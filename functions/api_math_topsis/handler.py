"""POST /math/topsis: TOPSIS over a decision matrix, or over the live offers by named criteria."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.math_models import TopsisOut
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import SnapshotSettings
from gpubroker.domain.math_requests import TopsisMatrix, TopsisRequest
from gpubroker.services.recommend import topsis_rank
from gpubroker.wiring.math import MathDeps, math_deps

Settings = SnapshotSettings
Deps = MathDeps
app = new_resolver()


@app.post("/math/topsis", responses=responses(TopsisOut, 503, 415))
def topsis_route(request: Annotated[TopsisRequest, Body()]) -> TopsisOut:
    deps: MathDeps = app.context["deps"]
    offer_math = None if isinstance(request, TopsisMatrix) else deps.offers.get()
    return TopsisOut.model_validate(topsis_rank(request, offer_math=offer_math).model_dump())


lambda_handler = api_handler(app, math_deps)
