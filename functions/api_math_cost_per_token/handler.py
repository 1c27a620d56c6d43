"""POST /math/cost-per-token: USD per 1M tokens, measured, or estimated from the GPU catalog for a GPU model or for an
offer (its GPU at its price; `not_applicable` with the reason where the figure does not exist for it)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.math_models import CostPerTokenOut
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import SnapshotSettings
from gpubroker.domain.math_requests import CostPerTokenRequest
from gpubroker.services.kpis import cost_per_token
from gpubroker.wiring.math import MathDeps, math_deps

Settings = SnapshotSettings
Deps = MathDeps
app = new_resolver()


@app.post("/math/cost-per-token", responses=responses(CostPerTokenOut, 404, 503, 415))
def cost_per_token_route(request: Annotated[CostPerTokenRequest, Body()]) -> CostPerTokenOut:
    deps: MathDeps = app.context["deps"]
    return CostPerTokenOut.model_validate(cost_per_token(request, offer_math=deps.offers.get()).model_dump())


lambda_handler = api_handler(app, math_deps)
